/*
 * tapdelay: the lab's delay line. Two TAP devices joined by this process, which
 * holds every Ethernet frame for a fixed time before passing it to the other
 * side. The kernel here has no netem, so latency is made in userspace: the lab
 * runs one tapdelay per delayed link inside the internet router's namespace and
 * moves one of the two TAPs into the site router's namespace.
 *
 * usage: tapdelay IF_A IF_B DELAY_US
 *   Creates IF_A and IF_B in the current network namespace, prints "ready" on
 *   stdout, then forwards frames both ways with DELAY_US of one-way delay.
 *   Exits when stdin reaches EOF (its parent died or closed the pipe) or on
 *   SIGTERM/SIGINT, so it never outlives the lab.
 * Frames are kept in arrival order per direction; the delay is constant, so a
 * FIFO is enough. The queue is capped (MAX_QUEUED frames per direction); frames
 * over the cap are dropped like a full router buffer would drop them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65536
#define MAX_QUEUED 200000

struct frame {
  struct frame *next;
  long long due_us;
  size_t len;
  unsigned char data[];
};

struct queue {
  struct frame *head, *tail;
  long count;
};

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int open_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); exit(1); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
  return fd;
}

static void push(struct queue *q, const unsigned char *buf, size_t len, long long due) {
  if (q->count >= MAX_QUEUED) return; /* tail drop */
  struct frame *f = malloc(sizeof *f + len);
  if (!f) return;
  f->next = NULL;
  f->due_us = due;
  f->len = len;
  memcpy(f->data, buf, len);
  if (q->tail) q->tail->next = f; else q->head = f;
  q->tail = f;
  q->count++;
}

/* Writes every due frame; returns microseconds until the next one, or -1. */
static long long flush_due(struct queue *q, int fd, long long now) {
  while (q->head && q->head->due_us <= now) {
    struct frame *f = q->head;
    if (write(fd, f->data, f->len) < 0 && errno == EAGAIN) return 1000; /* retry soon */
    q->head = f->next;
    if (!q->head) q->tail = NULL;
    q->count--;
    free(f);
  }
  return q->head ? q->head->due_us - now : -1;
}

static void drain(int from, struct queue *q, long long delay) {
  static unsigned char buf[MAX_FRAME];
  for (int i = 0; i < 256; i++) {
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return;
    push(q, buf, (size_t)n, now_us() + delay);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s IF_A IF_B DELAY_US\n", argv[0]); return 2; }
  long long delay = atoll(argv[3]);
  int a = open_tap(argv[1]);
  int b = open_tap(argv[2]);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  printf("ready\n");
  fflush(stdout);

  struct queue ab = {0}, ba = {0};
  struct pollfd fds[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {0, POLLIN, 0}};
  while (!stop) {
    long long now = now_us();
    long long w1 = flush_due(&ab, b, now);
    long long w2 = flush_due(&ba, a, now);
    long long wait = w1 < 0 ? w2 : (w2 < 0 ? w1 : (w1 < w2 ? w1 : w2));
    if (wait < 0) wait = 1000000;
    struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
    int r = ppoll(fds, 3, &ts, NULL);
    if (r < 0 && errno != EINTR) { perror("poll"); return 1; }
    if (r <= 0) continue;
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      char c[64];
      ssize_t n = read(0, c, sizeof c);
      if (n <= 0) break; /* parent gone */
    }
    if (fds[0].revents & POLLIN) drain(a, &ab, delay);
    if (fds[1].revents & POLLIN) drain(b, &ba, delay);
  }
  return 0;
}
