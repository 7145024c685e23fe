/*
 * openloop: a constant-arrival-rate HTTP/1.1 load generator for 127.0.0.1, with latency measured from each
 * request's intended send time (coordinated omission corrected) into a log-linear histogram (~1.6 % precision).
 *
 * wrk2, k6, vegeta and oha are not packaged here, so the benchmark carries this small generator. Requests are
 * scheduled at start + i / rate whatever the server does and sent on the next free connection in round robin; a
 * request that finds no free connection waits in a queue and its wait counts as latency. Bounded in time: it stops scheduling at the end and waits at most 5 s more.
 *
 * usage: openloop PORT REQUEST_FILE RATE DURATION_S CONNECTIONS WARMUP_S
 *   REQUEST_FILE holds one or more complete raw HTTP requests separated by NUL bytes; they are sent in rotation.
 * output: one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 20)
#define BUCKETS 4096
#define QUEUE_SIZE (1 << 22)

typedef struct {
    int fd;
    int busy;
    uint64_t intended_ns;
    char *buf;
    size_t len;
} conn_t;

static uint64_t hist[BUCKETS];
static uint64_t queue[QUEUE_SIZE];
static size_t q_head, q_tail;
static char **requests;
static size_t *request_lens;
static size_t n_requests, next_request;
static uint64_t completed, errors, non_2xx, sent, dropped, warm_completed;
static uint64_t sum_us, max_us;
static int port;
static int epfd;
static int next_conn; /* where the round robin over connections resumes */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t bucket_of(uint64_t us) {
    if (us < 128) return (size_t)us;
    int e = 63 - __builtin_clzll(us);
    uint64_t m = us >> (e - 6);
    size_t idx = 128 + (size_t)(e - 7) * 64 + (size_t)(m - 64);
    return idx < BUCKETS ? idx : BUCKETS - 1;
}

static double value_of(size_t idx) {
    if (idx < 128) return (double)idx;
    int e = 7 + (int)((idx - 128) / 64);
    uint64_t m = 64 + (idx - 128) % 64;
    double lo = (double)(m << (e - 6));
    double hi = (double)((m + 1) << (e - 6));
    return (lo + hi) / 2.0;
}

static double percentile(double p) {
    uint64_t total = 0;
    for (size_t i = 0; i < BUCKETS; i++) total += hist[i];
    if (total == 0) return 0.0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)total + 0.5);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) return value_of(i);
    }
    return value_of(BUCKETS - 1);
}

static int open_conn(conn_t *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->busy = 0;
    c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void fail_conn(conn_t *c) {
    if (c->busy) errors++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->busy = 0;
    if (open_conn(c) < 0) c->fd = -1;
}

static int send_request(conn_t *c, uint64_t intended) {
    const char *req = requests[next_request];
    size_t len = request_lens[next_request];
    next_request = (next_request + 1) % n_requests;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(c->fd, req + off, len - off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue; /* connect still in progress: spin briefly */
            return -1;
        }
        off += (size_t)n;
    }
    c->busy = 1;
    c->intended_ns = intended;
    sent++;
    return 0;
}

/* Consume complete responses from the connection buffer; returns -1 on a framing error. */
static int parse_responses(conn_t *c, uint64_t now, uint64_t warm_until) {
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return 0;
        size_t head_len = (size_t)(end - c->buf) + 4;
        long content_length = 0;
        for (char *p = c->buf; p < end; p++) {
            if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
                content_length = strtol(p + 15, NULL, 10);
                break;
            }
        }
        if (content_length < 0) return -1;
        size_t total = head_len + (size_t)content_length;
        if (c->len < total) return 0;
        int status = (c->len > 12) ? atoi(c->buf + 9) : 0;
        if (c->busy) {
            uint64_t us = (now - c->intended_ns) / 1000;
            if (c->intended_ns >= warm_until) {
                hist[bucket_of(us)]++;
                completed++;
                sum_us += us;
                if (us > max_us) max_us = us;
                if (status < 200 || status > 299) non_2xx++;
            } else {
                warm_completed++;
            }
            c->busy = 0;
        }
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
    }
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: openloop PORT REQUEST_FILE RATE DURATION_S CONNECTIONS WARMUP_S\n");
        return 2;
    }
    port = atoi(argv[1]);
    double rate = atof(argv[3]);
    double duration_s = atof(argv[4]);
    int n_conns = atoi(argv[5]);
    double warmup_s = atof(argv[6]);
    if (port <= 0 || rate <= 0 || duration_s <= 0 || n_conns <= 0 || duration_s > 600) {
        fprintf(stderr, "openloop: bad arguments\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror("openloop: request file");
        return 2;
    }
    static char file_buf[BUF_SIZE];
    size_t file_len = fread(file_buf, 1, sizeof file_buf, f);
    fclose(f);
    requests = calloc(1024, sizeof *requests);
    request_lens = calloc(1024, sizeof *request_lens);
    for (size_t start = 0; start < file_len && n_requests < 1024;) {
        char *nul = memchr(file_buf + start, '\0', file_len - start);
        size_t end = nul ? (size_t)(nul - file_buf) : file_len;
        if (end > start) {
            requests[n_requests] = file_buf + start;
            request_lens[n_requests++] = end - start;
        }
        start = end + 1;
    }
    if (n_requests == 0) {
        fprintf(stderr, "openloop: no requests in file\n");
        return 2;
    }

    epfd = epoll_create1(0);
    conn_t *conns = calloc((size_t)n_conns, sizeof *conns);
    for (int i = 0; i < n_conns; i++) {
        conns[i].buf = malloc(BUF_SIZE);
        if (open_conn(&conns[i]) < 0) {
            fprintf(stderr, "openloop: cannot connect to 127.0.0.1:%d\n", port);
            return 1;
        }
    }
    usleep(100000); /* let the connects complete */

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    uint64_t interval_ns = (uint64_t)(1e9 / rate);
    uint64_t start = now_ns();
    uint64_t warm_until = start + (uint64_t)(warmup_s * 1e9);
    uint64_t stop_sched = start + (uint64_t)(duration_s * 1e9);
    uint64_t hard_stop = stop_sched + 5000000000ull;
    uint64_t next_send = start;
    struct epoll_event events[256];

    for (;;) {
        uint64_t now = now_ns();
        while (next_send <= now && next_send < stop_sched) {
            if ((q_tail + 1) % QUEUE_SIZE == q_head) {
                dropped++;
            } else {
                queue[q_tail] = next_send;
                q_tail = (q_tail + 1) % QUEUE_SIZE;
            }
            next_send += interval_ns;
        }
        /* Round robin over the connections, from the one after the last used: every connection carries about
         * rate / CONNECTIONS, as behind a load balancer (and as in wrk's closed loop). Taking the lowest free one
         * instead would put nearly all of a low rate on the first few connections, and a server that spreads
         * connections over workers (SO_REUSEPORT hashes them) would then see one worker loaded and the other idle. */
        for (int k = 0; k < n_conns && q_head != q_tail; k++) {
            conn_t *c = &conns[next_conn];
            next_conn = (next_conn + 1) % n_conns;
            if (c->fd < 0 || c->busy) continue;
            if (send_request(c, queue[q_head]) < 0) {
                fail_conn(c);
                continue;
            }
            q_head = (q_head + 1) % QUEUE_SIZE;
        }
        int outstanding = q_head != q_tail;
        for (int i = 0; i < n_conns && !outstanding; i++) outstanding = conns[i].busy;
        if (now >= stop_sched && !outstanding) break;
        if (now >= hard_stop) break;

        if (next_send < stop_sched) {
            struct itimerspec its = {0};
            its.it_value.tv_sec = (time_t)(next_send / 1000000000ull);
            its.it_value.tv_nsec = (long)(next_send % 1000000000ull);
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }
        int n = epoll_wait(epfd, events, 256, 100);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                uint64_t expirations;
                ssize_t r = read(tfd, &expirations, sizeof expirations);
                (void)r;
                continue;
            }
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
                if (r > 0) {
                    c->len += (size_t)r;
                    if (parse_responses(c, now, warm_until) < 0) {
                        fail_conn(c);
                        break;
                    }
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) fail_conn(c);
                break;
            }
        }
    }
    uint64_t outstanding_at_end = (q_tail + QUEUE_SIZE - q_head) % QUEUE_SIZE;
    for (int i = 0; i < n_conns; i++) outstanding_at_end += (uint64_t)conns[i].busy;
    double measured_s = duration_s - warmup_s;
    printf("{\"rate\": %.1f, \"duration_s\": %.3f, \"warmup_s\": %.3f, \"connections\": %d, \"sent\": %llu, "
           "\"completed\": %llu, \"achieved_rate\": %.1f, \"errors\": %llu, \"non_2xx\": %llu, "
           "\"unfinished\": %llu, \"dropped\": %llu, \"mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
           "\"p95_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %llu}\n",
           rate, duration_s, warmup_s, n_conns, (unsigned long long)sent, (unsigned long long)completed,
           measured_s > 0 ? (double)completed / measured_s : 0.0, (unsigned long long)errors,
           (unsigned long long)non_2xx, (unsigned long long)outstanding_at_end, (unsigned long long)dropped,
           completed ? (double)sum_us / (double)completed : 0.0, percentile(50), percentile(90), percentile(95),
           percentile(99), percentile(99.9), (unsigned long long)max_us);
    return 0;
}
