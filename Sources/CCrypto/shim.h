// OpenSSL's libcrypto: HMAC-SHA256 for callback signatures, random bytes for ids.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
