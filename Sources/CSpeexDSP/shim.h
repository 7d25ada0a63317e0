#include <speex/speex_jitter.h>
#include <speex/speex_resampler.h>
