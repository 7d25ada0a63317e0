// SautiAudio: samples in, samples out.
