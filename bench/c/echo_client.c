/*
 * The load of `asyncio-ts bench --only echo` in C (the default client where
 * a `cc` is found; bench_echo_client.ts on Node's `net` otherwise):
 *
 *   echo_client PORT SIZE CONNECTIONS SECONDS [WARMUP]
 *
 * opens CONNECTIONS connections to 127.0.0.1:PORT, each doing request /
 * response round trips of SIZE bytes (the next request leaves once the whole
 * echo came back), for a warm-up of WARMUP seconds (default: a quarter of
 * SECONDS) and then SECONDS measured. Prints `START` and `STOP` around the
 * measured window, then `{"requests": n, "seconds": s, "bytes": b}`, as the
 * Node client does.
 *
 * Why C: a client on Node's `net` tops out near 50k requests per second of
 * 1 KiB on the bench machine, below what the servers can do, so at 1 KiB it
 * measured the client. One thread, level-triggered epoll, non-blocking
 * sockets, TCP_NODELAY, a static receive buffer: as little per request as a
 * client can spend, so that the server is the bottleneck.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE (256 * 1024)

typedef struct {
  int fd;
  size_t to_send;    /* bytes of the current request not sent yet */
  size_t to_receive; /* bytes of its echo not received yet */
  int open;
} conn_t;

static char recv_buf[BUF_SIZE];
static char *payload;
static size_t size;
static int stopping; /* after the measured window: finish the round trip, then close */
static long requests;
static int counting;
static int open_connections;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static void close_conn(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->open = 0;
  open_connections--;
}

/* Sends what is left of the request; waits for writability when the kernel takes only part of it. */
static void send_request(int ep, conn_t *c) {
  while (c->to_send > 0) {
    ssize_t n = send(c->fd, payload + (size - c->to_send), c->to_send, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail("send");
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      return;
    }
    c->to_send -= (size_t)n;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void start_request(int ep, conn_t *c) {
  c->to_send = size;
  c->to_receive = size;
  /* Most requests go whole in one send: only then is the interest list left untouched. */
  ssize_t n = send(c->fd, payload, size, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) fail("send");
  if (n > 0) c->to_send -= (size_t)n;
  if (c->to_send > 0) send_request(ep, c);
}

static void on_readable(int ep, conn_t *c) {
  ssize_t n = recv(c->fd, recv_buf, sizeof(recv_buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n < 0) fail("recv");
  if (n == 0) {
    fprintf(stderr, "the server closed a connection\n");
    exit(1);
  }
  if ((size_t)n > c->to_receive) {
    fprintf(stderr, "the server echoed %zu bytes too many\n", (size_t)n - c->to_receive);
    exit(1);
  }
  c->to_receive -= (size_t)n;
  if (c->to_receive > 0) return;
  if (counting) requests++;
  if (stopping) {
    close_conn(ep, c);
    return;
  }
  /* The whole echo came back: the next request (possible only once every byte was sent). */
  if (c->to_send == 0) start_request(ep, c);
}

static conn_t *connect_one(int ep, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) fail("connect");
  /* Connected while blocking (no connect readiness to handle), non-blocking from here on. */
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) fail("fcntl");
  conn_t *c = calloc(1, sizeof(conn_t));
  c->fd = fd;
  c->open = 1;
  open_connections++;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl");
  return c;
}

/* Runs the loop until `deadline` (or, with deadline 0, until every connection closed). */
static void run_until(int ep, double deadline, struct epoll_event *events) {
  for (;;) {
    int timeout = -1;
    if (deadline > 0) {
      double left = deadline - now();
      if (left <= 0) return;
      timeout = (int)(left * 1000) + 1;
    } else if (open_connections == 0) {
      return;
    }
    int n = epoll_wait(ep, events, MAX_EVENTS, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("epoll_wait");
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c->open) continue;
      if (events[i].events & EPOLLOUT) send_request(ep, c);
      if (c->open && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(ep, c);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: echo_client PORT SIZE CONNECTIONS SECONDS [WARMUP]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  size = (size_t)atol(argv[2]);
  int connections = atoi(argv[3]);
  double seconds = atof(argv[4]);
  double warmup = argc == 6 ? atof(argv[5]) : seconds / 4;
  if (port <= 0 || size == 0 || connections <= 0 || seconds <= 0 || warmup < 0) {
    fprintf(stderr, "echo_client: PORT, SIZE, CONNECTIONS and SECONDS must be positive, WARMUP not negative\n");
    return 2;
  }
  payload = malloc(size);
  memset(payload, 0x61, size);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1");
  conn_t **conns = calloc((size_t)connections, sizeof(conn_t *));
  for (int i = 0; i < connections; i++) conns[i] = connect_one(ep, port);
  for (int i = 0; i < connections; i++) start_request(ep, conns[i]);
  struct epoll_event events[MAX_EVENTS];
  run_until(ep, now() + warmup, events);
  printf("START\n");
  fflush(stdout);
  counting = 1;
  double start = now();
  run_until(ep, start + seconds, events);
  long measured = requests;
  double elapsed = now() - start;
  printf("STOP\n");
  fflush(stdout);
  counting = 0;
  stopping = 1;
  run_until(ep, 0, events);
  printf("{\"requests\": %ld, \"seconds\": %.6f, \"bytes\": %ld}\n", measured, elapsed, measured * (long)size);
  return 0;
}
