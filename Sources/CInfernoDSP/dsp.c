#include "inferno_dsp.h"
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

float inferno_dot_f32(const float *a, const float *b, size_t n) {
    v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f x, y;
        memcpy(&x, a + i, sizeof x);
        memcpy(&y, b + i, sizeof y);
        acc += x * y;
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

size_t inferno_resample_f32(const float *table, uint32_t phases, size_t taps, const float *input,
                            size_t available, uint64_t *position, uint64_t step, float *out, size_t capacity) {
    size_t produced = 0;
    uint64_t p = *position;
    const size_t half = taps / 2;
    while (produced < capacity) {
        uint64_t i = p >> 32;
        if (i + half >= available || i + 1 < half) break;
        uint64_t scaled = (p & 0xFFFFFFFFu) * (uint64_t)phases;   // < 2^32 · phases
        uint32_t q = (uint32_t)(scaled >> 32);
        float w = (float)(uint32_t)scaled * (1.0f / 4294967296.0f);
        const float *x = input + (i + 1 - half);
        float a = inferno_dot_f32(table + (size_t)q * taps, x, taps);
        float b = inferno_dot_f32(table + (size_t)(q + 1) * taps, x, taps);
        out[produced++] = a + w * (b - a);
        p += step;
    }
    *position = p;
    return produced;
}

void inferno_s16le_to_f32(const uint8_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) {
        int16_t v = (int16_t)(uint16_t)(src[2 * i] | (uint16_t)src[2 * i + 1] << 8);
        dst[i] = (float)v * (1.0f / 32768.0f);
    }
}

void inferno_f32_to_s16(const float *src, size_t n, int16_t *dst) {
    for (size_t i = 0; i < n; i++) {
        float v = src[i] * 32768.0f;
        v = v >= 0 ? v + 0.5f : v - 0.5f;
        if (!(v < 32767.0f)) v = 32767.0f;     /* also NaN */
        if (v < -32768.0f) v = -32768.0f;
        dst[i] = (int16_t)v;
    }
}

void inferno_f32_to_s32(const float *src, size_t n, int32_t *dst) {
    for (size_t i = 0; i < n; i++) {
        double v = (double)src[i] * 2147483648.0;
        v = v >= 0 ? v + 0.5 : v - 0.5;
        if (!(v < 2147483647.0)) v = 2147483647.0;
        if (v < -2147483648.0) v = -2147483648.0;
        dst[i] = (int32_t)v;
    }
}

void inferno_s32_to_f32(const int32_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)((double)src[i] * (1.0 / 2147483648.0));
}
