// libopus (Debian libopus-dev). Its ctl calls are variadic, which Swift cannot call:
// these inline wrappers give each request Swift uses a fixed signature.
#include <opus.h>

static inline int sauti_opus_encoder_set_int(OpusEncoder *st, int request, opus_int32 value) {
    return opus_encoder_ctl(st, request, value);
}
static inline int sauti_opus_encoder_get_int(OpusEncoder *st, int request, opus_int32 *value) {
    return opus_encoder_ctl(st, request, value);
}
static inline int sauti_opus_encoder_reset(OpusEncoder *st) {
    return opus_encoder_ctl(st, OPUS_RESET_STATE);
}
static inline int sauti_opus_decoder_reset(OpusDecoder *st) {
    return opus_decoder_ctl(st, OPUS_RESET_STATE);
}
static inline int sauti_opus_decoder_get_int(OpusDecoder *st, int request, opus_int32 *value) {
    return opus_decoder_ctl(st, request, value);
}
