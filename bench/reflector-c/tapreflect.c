/*
 * tapreflect: the bare-TAP ceiling for tapdns benchmarks (C version).
 *
 * It attaches to an existing TAP device, answers ARP requests for its
 * IPv4 address, and turns every IPv4 UDP frame to port 53 for that address
 * into a "reply" by the smallest in-place rewrite: swap the MACs, IPs and
 * ports, set the DNS QR bit and zero the UDP checksum (allowed for IPv4).
 * The IP header checksum is unchanged by swapping the two addresses.
 * Everything else is dropped. It is not a DNS server; it measures how many
 * frames per second one core can read from and write to a TAP.
 *
 * I/O mode: the fd is O_NONBLOCK (the kernel's tun driver only takes its
 * fast tun_build_skb path for non-blocking writes). The loop reads until
 * read(2) returns EAGAIN, then sleeps in poll(2) (200 ms timeout, so that
 * SIGINT/SIGTERM are noticed). One read(2) and at most one write(2) per
 * frame; no batching.
 *
 * Usage: tapreflect -t TAP [-i 198.18.0.2] [-m 02:00:c6:12:00:02] [-q]
 * Build:  gcc -O2 -Wall -o tapreflect-c tapreflect.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* reflect rewrites frame f[0:n] in place into the frame to send back and
 * returns its length, or 0 to drop it. */
static size_t reflect(uint8_t *f, size_t n, const uint8_t mac[6], const uint8_t ip[4])
{
	uint8_t tmp[6];

	if (n < 14)
		return 0;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	if (et == 0x0806) {
		/* ARP: Ethernet/IPv4 request for our address. */
		uint8_t *a = f + 14;
		if (n < 14 + 28 || a[0] != 0 || a[1] != 1 || a[2] != 8 || a[3] != 0 ||
		    a[4] != 6 || a[5] != 4 || a[6] != 0 || a[7] != 1 || memcmp(a + 24, ip, 4) != 0)
			return 0;
		memcpy(f, f + 6, 6);       /* eth dst = requester */
		memcpy(f + 6, mac, 6);     /* eth src = us */
		a[7] = 2;                  /* op = reply */
		memcpy(a + 18, a + 8, 10); /* target = sender (MAC+IP) */
		memcpy(a + 8, mac, 6);     /* sender = us */
		memcpy(a + 14, ip, 4);
		return 14 + 28;
	}
	if (et != 0x0800 || n < 14 + 20)
		return 0;
	uint8_t *ih = f + 14;
	size_t ihl = (size_t)(ih[0] & 0x0f) * 4;
	if ((ih[0] >> 4) != 4 || ihl < 20 || n < 14 + ihl + 8 + 12 || ih[9] != 17)
		return 0;
	if ((ih[6] & 0x3f) != 0 || ih[7] != 0) /* fragment */
		return 0;
	if (memcmp(ih + 16, ip, 4) != 0)
		return 0;
	uint8_t *uh = ih + ihl;
	if (uh[2] != 0 || uh[3] != 53)
		return 0;
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	memcpy(tmp, ih + 12, 4); /* swap IPs: header checksum unchanged */
	memcpy(ih + 12, ih + 16, 4);
	memcpy(ih + 16, tmp, 4);
	memcpy(tmp, uh, 2); /* swap ports */
	memcpy(uh, uh + 2, 2);
	memcpy(uh + 2, tmp, 2);
	uh[6] = 0; /* no UDP checksum (IPv4) */
	uh[7] = 0;
	uh[8 + 2] |= 0x80; /* QR */
	return n;
}

int main(int argc, char **argv)
{
	const char *tap = NULL, *ipstr = "198.18.0.2", *macstr = "02:00:c6:12:00:02";
	int quiet = 0, opt;
	uint8_t mac[6], ip[4];

	while ((opt = getopt(argc, argv, "t:i:m:q")) != -1) {
		switch (opt) {
		case 't': tap = optarg; break;
		case 'i': ipstr = optarg; break;
		case 'm': macstr = optarg; break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: %s -t TAP [-i IPV4] [-m MAC] [-q]\n", argv[0]);
			return 2;
		}
	}
	if (tap == NULL || strlen(tap) >= IFNAMSIZ || inet_pton(AF_INET, ipstr, ip) != 1 ||
	    parse_mac(macstr, mac) != 0) {
		fprintf(stderr, "usage: %s -t TAP [-i IPV4] [-m MAC] [-q]\n", argv[0]);
		return 2;
	}

	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/net/tun");
		return 1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "TUNSETIFF %s: %s\n", tap, strerror(errno));
		return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	static uint8_t buf[65536];
	unsigned long long rx = 0, tx = 0, drop = 0, werr = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (!quiet)
		fprintf(stderr, "tapreflect-c: %s ip %s mac %s (O_NONBLOCK, read until EAGAIN, then poll)\n",
			tap, ipstr, macstr);
	while (!stop) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				if (poll(&pfd, 1, 200) < 0 && errno != EINTR) {
					perror("poll");
					return 1;
				}
				continue;
			}
			perror("read");
			return 1;
		}
		rx++;
		size_t m = reflect(buf, (size_t)n, mac, ip);
		if (m == 0) {
			drop++;
			continue;
		}
		if (write(fd, buf, m) != (ssize_t)m)
			werr++;
		else
			tx++;
	}
	if (!quiet)
		fprintf(stderr, "tapreflect-c: rx %llu tx %llu dropped %llu write-errors %llu\n", rx, tx, drop, werr);
	close(fd);
	return 0;
}
