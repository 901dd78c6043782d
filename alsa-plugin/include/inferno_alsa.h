/* The C ABI of the plugin's Swift side (Sources/InfernoALSA/CABI.swift). Opaque handles; errors are negative
 * errno values with a one-line message copied into the caller's buffer. */
#ifndef INFERNO_ALSA_H
#define INFERNO_ALSA_H

#include <stddef.h>
#include <stdint.h>

void *inferno_alsa_config_new(const char *plugin_directory);
void inferno_alsa_config_free(void *config);
int inferno_alsa_config_set(void *config, const char *key, const char *value, char *error, long error_length);

void *inferno_alsa_open(void *config, int capture, char *error, long error_length);
void inferno_alsa_close(void *stream);
unsigned inferno_alsa_channels(void *stream);
unsigned inferno_alsa_rate(void *stream);
unsigned inferno_alsa_max_buffer_frames(void *stream);
void inferno_alsa_device_path(void *stream, char *out, long length);

void inferno_alsa_hw_params(void *stream, unsigned long buffer_size, unsigned long period_size);
int inferno_alsa_prepare(void *stream);
int inferno_alsa_start(void *stream);
void inferno_alsa_stop(void *stream, uint64_t appl);
int inferno_alsa_no_clock(void *stream);
int64_t inferno_alsa_pointer(void *stream, uint64_t appl, int draining);
void inferno_alsa_write(void *stream, uint64_t appl, unsigned long frames, const int32_t *src);
void inferno_alsa_read(void *stream, uint64_t appl, unsigned long frames, int32_t *dst);
int64_t inferno_alsa_delay(void *stream, uint64_t appl);
int64_t inferno_alsa_avail(void *stream, uint64_t appl);
int64_t inferno_alsa_next_period_ns(void *stream);
int64_t inferno_alsa_period_ns(void *stream);
int inferno_alsa_running(void *stream);

#endif
