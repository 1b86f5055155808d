/*
 * The floor of `asyncio-ts bench --only echo`: a minimal single-threaded
 * epoll echo server in C (level-triggered, non-blocking sockets, one
 * recv/send per readiness, TCP_NODELAY), listening on 127.0.0.1, port 0;
 * prints `PORT <n>` and echoes until killed. No loop, no buffering beyond
 * what one send leaves (then it waits for writability): what the kernel's
 * loopback costs, which no event loop can beat.
 *
 *   cc -O2 -o echo_epoll echo_epoll.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE (256 * 1024)

/* What one connection still has to send (the part one send left). */
typedef struct {
  int fd;
  size_t len, off;
  char *pending;
} conn_t;

static char buf[BUF_SIZE];

static void drop(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

/* Sends what is pending; 1 when all of it went, 0 when it must wait, -1 on error. */
static int flush(conn_t *c) {
  while (c->off < c->len) {
    ssize_t n = send(c->fd, c->pending + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    c->off += (size_t)n;
  }
  c->len = c->off = 0;
  return 1;
}

static void on_readable(int ep, conn_t *c) {
  ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    drop(ep, c);
    return;
  }
  if (n < 0) return;
  ssize_t sent = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    drop(ep, c);
    return;
  }
  if (sent < 0) sent = 0;
  if (sent == n) return;
  /* Keep the rest and stop reading until it is sent. */
  c->pending = realloc(c->pending, (size_t)(n - sent));
  memcpy(c->pending, buf + sent, (size_t)(n - sent));
  c->len = (size_t)(n - sent);
  c->off = 0;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_writable(int ep, conn_t *c) {
  int r = flush(c);
  if (r < 0) {
    drop(ep, c);
    return;
  }
  if (r == 0) return;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(void) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  socklen_t alen = sizeof(addr);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1024) < 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
    perror("listen");
    return 1;
  }
  printf("PORT %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c == NULL) {
        /* Accept in a batch, until the backlog is empty. */
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          conn_t *nc = calloc(1, sizeof(conn_t));
          nc->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
      } else if (events[i].events & EPOLLOUT) {
        on_writable(ep, c);
      } else {
        on_readable(ep, c);
      }
    }
  }
}
