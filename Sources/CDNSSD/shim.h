/* Avahi's DNS-SD compatibility library (libavahi-compat-libdnssd-dev): the Bonjour dns_sd API over avahi-daemon. */
#include <dns_sd.h>
