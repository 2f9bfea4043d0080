/* c-sendfile FILE PORT — the write_file reference: a minimal blocking TCP
 * server on 127.0.0.1:PORT that sends the whole of FILE to each connection
 * with sendfile(2), then closes it. One connection at a time; the file is
 * opened once and its size taken once (at start). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: c-sendfile FILE PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ffd = open(argv[1], O_RDONLY);
    struct stat st;
    if (ffd < 0 || fstat(ffd, &st) < 0) {
        perror(argv[1]);
        return 1;
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    fprintf(stderr, "listening on 127.0.0.1:%s, %lld bytes per connection\n", argv[2],
            (long long)st.st_size);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
        off_t off = 0;
        while (off < st.st_size) {
            ssize_t n = sendfile(fd, ffd, &off, st.st_size - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (n < 0) perror("sendfile");
                break;
            }
        }
        close(fd);
    }
}
