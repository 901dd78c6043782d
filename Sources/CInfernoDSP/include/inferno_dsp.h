// Inner loops of the resampler (InfernoMedia.Resampler), in C so that they run fast in debug builds too:
// Swift at -Onone spends tens of nanoseconds per multiply-add, C with vector types about half a nanosecond.
// No allocation, no state: the Swift side owns every buffer.
#ifndef INFERNO_DSP_H
#define INFERNO_DSP_H
#include <stddef.h>
#include <stdint.h>

/// Σ a[i]·b[i] for i < n.
float inferno_dot_f32(const float *a, const float *b, size_t n);

/// Polyphase FIR interpolation with linear interpolation between adjacent phases.
///
/// `table` holds `phases + 1` rows of `taps` coefficients (taps even): row q is the kernel for the fractional
/// position q / phases. `*position` is a 32.32 fixed-point index into `input`: the output for position p uses
/// input[i − taps/2 + 1 … i + taps/2] with i = p >> 32. Outputs are produced while that window lies inside
/// `available` samples and fewer than `capacity` have been written; `*position` advances by `step` per output.
/// Precondition: (*position >> 32) ≥ taps/2 − 1. Returns the number of outputs written.
size_t inferno_resample_f32(const float *table, uint32_t phases, size_t taps, const float *input,
                            size_t available, uint64_t *position, uint64_t step, float *out, size_t capacity);

/// Little-endian s16 bytes → floats in [−1, 1) (sample / 32768).
void inferno_s16le_to_f32(const uint8_t *src, size_t n, float *dst);
/// Floats → s16 (×32768, rounded, clamped).
void inferno_f32_to_s16(const float *src, size_t n, int16_t *dst);
/// Floats → left-justified s32 (×2^31, rounded, clamped), the device's sample format.
void inferno_f32_to_s32(const float *src, size_t n, int32_t *dst);
/// Left-justified s32 → floats (sample / 2^31).
void inferno_s32_to_f32(const int32_t *src, size_t n, float *dst);
#endif
