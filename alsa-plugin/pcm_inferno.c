/*
 * pcm_inferno.c: the ALSA ioplug glue of the Inferno PCM (libasound_module_pcm_inferno.so).
 *
 * ALSA's side only: configuration keys, hardware constraints, the poll timer and the ioplug callbacks. Every
 * decision about positions, clocks and the device lives in Swift (Sources/InfernoALSA, C ABI in
 * include/inferno_alsa.h).
 *
 * Poll: a CLOCK_MONOTONIC timerfd ticks once per period, first tick on a period boundary of the media clock;
 * poll_revents reports readiness only when avail >= avail_min.
 */
#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "inferno_alsa.h"

typedef struct {
    snd_pcm_ioplug_t io;
    void *stream;
    int timer;
    snd_pcm_uframes_t boundary;
    snd_pcm_uframes_t avail_min;
    int warned_no_clock;
} inferno_pcm_t;

static void arm_timer(inferno_pcm_t *p, int64_t first_ns, int64_t interval_ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (first_ns > 0) {
        its.it_value.tv_sec = first_ns / 1000000000;
        its.it_value.tv_nsec = first_ns % 1000000000;
        its.it_interval.tv_sec = interval_ns / 1000000000;
        its.it_interval.tv_nsec = interval_ns % 1000000000;
    }
    timerfd_settime(p->timer, 0, &its, NULL);
}

static void report_no_clock(inferno_pcm_t *p)
{
    if (!p->warned_no_clock && inferno_alsa_no_clock(p->stream)) {
        p->warned_no_clock = 1;
        fprintf(stderr, "inferno: the device has no media clock (its log says why): the stream runs silent "
                        "on the host clock until one appears\n");
    }
}

static int inf_start(snd_pcm_ioplug_t *io)
{
    inferno_pcm_t *p = io->private_data;
    int err = inferno_alsa_start(p->stream);
    if (err < 0)
        return err;
    arm_timer(p, inferno_alsa_next_period_ns(p->stream), inferno_alsa_period_ns(p->stream));
    report_no_clock(p);
    return 0;
}

static int inf_stop(snd_pcm_ioplug_t *io)
{
    inferno_pcm_t *p = io->private_data;
    inferno_alsa_stop(p->stream, io->appl_ptr);
    arm_timer(p, 0, 0);
    return 0;
}

static snd_pcm_sframes_t inf_pointer(snd_pcm_ioplug_t *io)
{
    inferno_pcm_t *p = io->private_data;
    int64_t hw = inferno_alsa_pointer(p->stream, io->appl_ptr, io->state == SND_PCM_STATE_DRAINING);
    if (hw < 0)
        return (snd_pcm_sframes_t)hw;
    return (snd_pcm_sframes_t)((uint64_t)hw % p->boundary);
}

static snd_pcm_sframes_t inf_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
                                      snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
    inferno_pcm_t *p = io->private_data;
    char *buf = (char *)areas[0].addr + (areas[0].first + areas[0].step * offset) / 8;
    if (io->stream == SND_PCM_STREAM_PLAYBACK)
        inferno_alsa_write(p->stream, io->appl_ptr, size, (const int32_t *)buf);
    else
        inferno_alsa_read(p->stream, io->appl_ptr, size, (int32_t *)buf);
    return (snd_pcm_sframes_t)size;
}

static int inf_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
    inferno_pcm_t *p = io->private_data;
    (void)params;
    /* The boundary alsa-lib derives from the buffer size (pcm.c): the wrap point of our pointer. */
    snd_pcm_uframes_t b = io->buffer_size;
    while (b * 2 <= LONG_MAX - io->buffer_size)
        b *= 2;
    p->boundary = b;
    p->avail_min = io->period_size;
    inferno_alsa_hw_params(p->stream, io->buffer_size, io->period_size);
    return 0;
}

static int inf_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
    inferno_pcm_t *p = io->private_data;
    snd_pcm_uframes_t v;
    if (snd_pcm_sw_params_get_avail_min(params, &v) == 0 && v > 0)
        p->avail_min = v;
    if (snd_pcm_sw_params_get_boundary(params, &v) == 0 && v > 0)
        p->boundary = v;
    return 0;
}

static int inf_prepare(snd_pcm_ioplug_t *io)
{
    inferno_pcm_t *p = io->private_data;
    int err = inferno_alsa_prepare(p->stream);
    if (err < 0) {
        if (err == -ENODEV)
            SNDERR("inferno: the device process is gone; close and reopen the PCM");
        return err;
    }
    /* Playback may be written before start: let poll report free space once per period. */
    if (io->stream == SND_PCM_STREAM_PLAYBACK)
        arm_timer(p, 1, inferno_alsa_period_ns(p->stream));
    else
        arm_timer(p, 0, 0);
    report_no_clock(p);
    return 0;
}

static int inf_delay(snd_pcm_ioplug_t *io, snd_pcm_sframes_t *delayp)
{
    inferno_pcm_t *p = io->private_data;
    *delayp = (snd_pcm_sframes_t)inferno_alsa_delay(p->stream, io->appl_ptr);
    return 0;
}

static int inf_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds, unsigned short *revents)
{
    inferno_pcm_t *p = io->private_data;
    uint64_t ticks;
    unsigned short ready = io->stream == SND_PCM_STREAM_PLAYBACK ? POLLOUT : POLLIN;
    (void)nfds;
    if (pfd[0].revents & POLLIN)
        (void)!read(p->timer, &ticks, sizeof ticks);
    if (io->state != SND_PCM_STATE_RUNNING && io->state != SND_PCM_STATE_PREPARED &&
        io->state != SND_PCM_STATE_DRAINING) {
        *revents = ready | POLLERR;
        return 0;
    }
    int64_t avail = inferno_alsa_avail(p->stream, io->appl_ptr);
    if (avail < 0)
        *revents = ready | POLLERR;
    else
        *revents = (uint64_t)avail >= p->avail_min || io->state == SND_PCM_STATE_DRAINING ? ready : 0;
    return 0;
}

static int inf_close(snd_pcm_ioplug_t *io)
{
    inferno_pcm_t *p = io->private_data;
    inferno_alsa_close(p->stream);
    close(p->timer);
    free(p);
    return 0;
}

static void inf_dump(snd_pcm_ioplug_t *io, snd_output_t *out)
{
    inferno_pcm_t *p = io->private_data;
    char path[256];
    inferno_alsa_device_path(p->stream, path, sizeof path);
    snd_output_printf(out, "Inferno (Dante) PCM: %u channels at %u Hz through %s\n",
                      inferno_alsa_channels(p->stream), inferno_alsa_rate(p->stream), path);
}

static const snd_pcm_ioplug_callback_t inferno_callbacks = {
    .start = inf_start,
    .stop = inf_stop,
    .pointer = inf_pointer,
    .transfer = inf_transfer,
    .close = inf_close,
    .hw_params = inf_hw_params,
    .sw_params = inf_sw_params,
    .prepare = inf_prepare,
    .poll_revents = inf_poll_revents,
    .dump = inf_dump,
    .delay = inf_delay,
};

static int set_constraints(inferno_pcm_t *p)
{
    static const unsigned int access_list[] = { SND_PCM_ACCESS_RW_INTERLEAVED, SND_PCM_ACCESS_MMAP_INTERLEAVED };
    static const unsigned int format_list[] = { SND_PCM_FORMAT_S32_LE };
    unsigned int channels = inferno_alsa_channels(p->stream);
    unsigned int rate = inferno_alsa_rate(p->stream);
    unsigned int frame = 4 * channels;
    unsigned int max_buffer = inferno_alsa_max_buffer_frames(p->stream);
    int err;
    if ((err = snd_pcm_ioplug_set_param_list(&p->io, SND_PCM_IOPLUG_HW_ACCESS, 2, access_list)) < 0 ||
        (err = snd_pcm_ioplug_set_param_list(&p->io, SND_PCM_IOPLUG_HW_FORMAT, 1, format_list)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(&p->io, SND_PCM_IOPLUG_HW_CHANNELS, channels, channels)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(&p->io, SND_PCM_IOPLUG_HW_RATE, rate, rate)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(&p->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 16 * frame,
                                               (max_buffer / 2) * frame)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(&p->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 32 * frame,
                                               max_buffer * frame)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(&p->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 1024)) < 0)
        return err;
    return 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(inferno)
{
    snd_config_iterator_t i, next;
    char message[512];
    char directory[PATH_MAX] = "";
    Dl_info info;
    int err;
    (void)root;

    if (dladdr((void *)&inferno_alsa_config_new, &info) && info.dli_fname) {
        snprintf(directory, sizeof directory, "%s", info.dli_fname);
        char *slash = strrchr(directory, '/');
        if (slash)
            *slash = 0;
        else
            directory[0] = 0;
    }
    void *config = inferno_alsa_config_new(directory[0] ? directory : NULL);
    snd_config_for_each(i, next, conf) {
        snd_config_t *n = snd_config_iterator_entry(i);
        const char *id;
        char *value = NULL;
        if (snd_config_get_id(n, &id) < 0)
            continue;
        if (strcmp(id, "comment") == 0 || strcmp(id, "type") == 0 || strcmp(id, "hint") == 0)
            continue;
        if (snd_config_get_ascii(n, &value) < 0) {
            SNDERR("inferno: %s must be a string or a number", id);
            inferno_alsa_config_free(config);
            return -EINVAL;
        }
        err = inferno_alsa_config_set(config, id, value, message, sizeof message);
        free(value);
        if (err < 0) {
            SNDERR("%s", message);
            inferno_alsa_config_free(config);
            return -EINVAL;
        }
    }

    inferno_pcm_t *p = calloc(1, sizeof *p);
    if (!p) {
        inferno_alsa_config_free(config);
        return -ENOMEM;
    }
    p->stream = inferno_alsa_open(config, stream == SND_PCM_STREAM_CAPTURE, message, sizeof message);
    inferno_alsa_config_free(config);
    if (!p->stream) {
        SNDERR("%s", message);
        free(p);
        return -ENODEV;
    }
    p->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p->timer < 0) {
        err = -errno;
        inferno_alsa_close(p->stream);
        free(p);
        return err;
    }
    p->io.version = SND_PCM_IOPLUG_VERSION;
    p->io.name = "Inferno (Dante)";
    p->io.callback = &inferno_callbacks;
    p->io.private_data = p;
    p->io.poll_fd = p->timer;
    p->io.poll_events = POLLIN;
    p->io.mmap_rw = 0;
    p->io.flags = SND_PCM_IOPLUG_FLAG_BOUNDARY_WA | SND_PCM_IOPLUG_FLAG_MONOTONIC;
    p->boundary = 1;

    err = snd_pcm_ioplug_create(&p->io, name, stream, mode);
    if (err < 0) {
        inferno_alsa_close(p->stream);
        close(p->timer);
        free(p);
        return err;
    }
    err = set_constraints(p);
    if (err < 0) {
        snd_pcm_ioplug_delete(&p->io);   /* calls inf_close */
        return err;
    }
    *pcmp = p->io.pcm;
    return 0;
}

SND_PCM_PLUGIN_SYMBOL(inferno);
