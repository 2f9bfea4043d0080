/* c-epoll-udp-echo PORT — minimal single-threaded UDP echo server in C: the
 * batching reference for pants' datagram channels.
 *
 * One non-blocking UDP socket bound on 127.0.0.1:PORT (the port is the last
 * argument), registered once with epoll, edge-triggered (EPOLLIN|EPOLLET).
 * On a readable edge: recvmmsg(2) up to BATCH (32) datagrams with
 * MSG_DONTWAIT into BATCH static 64 KiB buffers, then sendmmsg(2) each one
 * back to its sender (the same batch, one call), and again until recvmmsg
 * says EAGAIN. A reply the kernel refuses (EAGAIN: the send buffer is full;
 * on loopback it never is) is dropped, as UDP may; the client re-sends.
 * Default socket buffers (the other UDP peers use theirs too). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define BUFSZ (64 * 1024)

static char bufs[BATCH][BUFSZ];
static struct sockaddr_storage from[BATCH];
static struct iovec riov[BATCH], siov[BATCH];
static struct mmsghdr rmsg[BATCH], smsg[BATCH];

/* Echo until the socket is drained: 0, or -1 on a fatal error. */
static int pump(int fd) {
    for (;;) {
        for (int i = 0; i < BATCH; i++) { /* recvmmsg overwrote these */
            rmsg[i].msg_hdr.msg_namelen = sizeof from[i];
            rmsg[i].msg_hdr.msg_controllen = 0;
            rmsg[i].msg_hdr.msg_flags = 0;
        }
        int n = recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR) continue;
            /* An ICMP error for an earlier reply: it concerns that reply. */
            if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) continue;
            perror("recvmmsg");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            siov[i].iov_len = rmsg[i].msg_len;
            smsg[i].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
        }
        int off = 0;
        while (off < n) {
            int m = sendmmsg(fd, smsg + off, n - off, MSG_DONTWAIT);
            if (m < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break; /* dropped */
                /* This reply failed (its sender is gone, say): skip it. */
                off++;
                continue;
            }
            off += m;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: c-epoll-udp-echo PORT\n");
        return 2;
    }
    int port = atoi(argv[argc - 1]);
    signal(SIGPIPE, SIG_IGN);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("bind");
        return 1;
    }
    for (int i = 0; i < BATCH; i++) {
        riov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = BUFSZ};
        rmsg[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_iov = &riov[i], .msg_iovlen = 1};
        siov[i] = (struct iovec){.iov_base = bufs[i]};
        smsg[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_iov = &siov[i], .msg_iovlen = 1};
    }
    fprintf(stderr, "listening on 127.0.0.1:%d\n", port);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    struct epoll_event ev[8];
    for (;;) {
        int n = epoll_wait(ep, ev, 8, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        if (n > 0 && pump(fd) < 0) return 1;
    }
}
