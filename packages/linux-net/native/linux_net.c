// @weft/linux-net native part: the few socket calls Node does not offer (setns, SO_ORIGINAL_DST,
// SO_MARK). Plain C against node_api.h so the same .node file loads in Node and in Bun.
//
// Every OS failure comes back to JavaScript as a value { ok: false, errno, code, message }, never
// as a thrown exception; invalid arguments come back the same way with EINVAL. Every fd opened
// here is closed on every error path.
//
// setns() switches the network namespace of the calling *thread* only. A socket belongs to the
// namespace it was created in for its whole life, so we enter the target namespace, create the
// socket, and return to the thread's original namespace at once; bind/listen/connect afterwards
// act in the socket's namespace whatever thread calls them.
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; spelled out here so we
// need neither header (they clash with the libc socket headers on some systems).
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#define LN_IP6T_SO_ORIGINAL_DST 80

#define LN_MSG_MAX 512
#define LN_ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 8)

typedef struct {
  int code;  // errno value; 0 = no error
  char message[LN_MSG_MAX];
} ln_err;

// ---- errno names ----------------------------------------------------------------------------

typedef struct {
  int code;
  const char *name;
} ln_errno_name;

static const ln_errno_name ERRNO_NAMES[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {ESRCH, "ESRCH"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {ENXIO, "ENXIO"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},
    {ENAMETOOLONG, "ENAMETOOLONG"},
    {ENOSYS, "ENOSYS"},
    {ELOOP, "ELOOP"},
    {ENOTSOCK, "ENOTSOCK"},
    {EDESTADDRREQ, "EDESTADDRREQ"},
    {EPROTOTYPE, "EPROTOTYPE"},
    {ENOPROTOOPT, "ENOPROTOOPT"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EOPNOTSUPP, "ENOTSUP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {ENETDOWN, "ENETDOWN"},
    {ENETUNREACH, "ENETUNREACH"},
    {ENETRESET, "ENETRESET"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNRESET, "ECONNRESET"},
    {ENOBUFS, "ENOBUFS"},
    {EISCONN, "EISCONN"},
    {ENOTCONN, "ENOTCONN"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTDOWN, "EHOSTDOWN"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EALREADY, "EALREADY"},
    {EINPROGRESS, "EINPROGRESS"},
    {ECANCELED, "ECANCELED"},
};

static const char *errno_name(int code) {
  for (size_t i = 0; i < sizeof(ERRNO_NAMES) / sizeof(ERRNO_NAMES[0]); i++) {
    if (ERRNO_NAMES[i].code == code) return ERRNO_NAMES[i].name;
  }
  return "EUNKNOWN";
}

// message = "<what>: <strerror(code)>"
static void set_err(ln_err *e, int code, const char *fmt, ...) {
  char what[LN_MSG_MAX / 2];  // leaves room for ": " and the strerror text
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  char buf[128];
  // GNU strerror_r returns the text (maybe not in buf).
  const char *text = strerror_r(code, buf, sizeof(buf));
  e->code = code;
  snprintf(e->message, sizeof(e->message), "%s: %s", what, text);
}

// ---- addresses ------------------------------------------------------------------------------

// Numeric IPv4 or IPv6 only (no DNS: the caller resolves names in the right namespace).
static bool parse_ip(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
    return true;
  }
  return false;
}

// "1.2.3.4:80" / "[::1]:80"
static void format_addr(const char *host, int port, char *out, size_t outlen) {
  if (strchr(host, ':') != NULL) {
    snprintf(out, outlen, "[%s]:%d", host, port);
  } else {
    snprintf(out, outlen, "%s:%d", host, port);
  }
}

// ---- namespaces -----------------------------------------------------------------------------

// Enters the namespace at `path` on this thread; *orig_out gets an fd of the thread's original
// namespace (or -1 when path is NULL: stay where we are). Returns false with `e` set on failure,
// having closed everything and left the thread where it was.
static bool ns_enter(const char *path, int *orig_out, ln_err *e) {
  *orig_out = -1;
  if (path == NULL) return true;
  // O_NONBLOCK: a FIFO given as the path must not block the open.
  int target = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (target < 0) {
    set_err(e, errno, "open netns %s", path);
    return false;
  }
  int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig < 0) {
    int err = errno;
    close(target);
    set_err(e, err, "open /proc/thread-self/ns/net");
    return false;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(orig);
    set_err(e, err, "setns %s", path);
    return false;
  }
  close(target);
  *orig_out = orig;
  return true;
}

static void ns_leave(int orig) {
  if (orig < 0) return;
  if (setns(orig, CLONE_NEWNET) != 0) {
    // The thread would go on in a foreign namespace and silently open every later socket there.
    // We entered it with the same privileges, so this cannot happen short of a kernel fault.
    fprintf(stderr, "@weft/linux-net: cannot return to the original network namespace: %s\n",
            strerror(errno));
    abort();
  }
  close(orig);
}

// A nonblocking, close-on-exec TCP socket created inside the namespace at `path`.
static int socket_in_netns(const char *path, int family, ln_err *e) {
  int orig;
  if (!ns_enter(path, &orig, e)) return -1;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  int err = errno;
  ns_leave(orig);
  if (fd < 0) {
    set_err(e, err, "socket in netns %s", path != NULL ? path : "(current)");
    return -1;
  }
  return fd;
}

// ---- napi argument helpers ------------------------------------------------------------------
// Each returns false with `e` set to EINVAL (the value goes back to JS; nothing is thrown).

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

// A string argument of at most maxlen bytes, no NUL inside. *out is malloc'ed (caller frees).
static bool arg_string(napi_env env, napi_value v, const char *name, size_t maxlen, char **out,
                       ln_err *e) {
  *out = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    set_err(e, EINVAL, "%s must be a string", name);
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    set_err(e, EINVAL, "%s must be a string", name);
    return false;
  }
  if (len == 0) {
    set_err(e, EINVAL, "%s must not be empty", name);
    return false;
  }
  if (len > maxlen) {
    set_err(e, EINVAL, "%s is longer than %zu bytes", name, maxlen);
    return false;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    set_err(e, ENOMEM, "%s", name);
    return false;
  }
  size_t copied = 0;
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &copied) != napi_ok || copied != len ||
      strlen(buf) != len) {
    free(buf);
    set_err(e, EINVAL, "%s must not contain NUL characters", name);
    return false;
  }
  *out = buf;
  return true;
}

// An integer argument in [min, max].
static bool arg_int(napi_env env, napi_value v, const char *name, double min, double max, double *out,
                    ln_err *e) {
  napi_valuetype t;
  double d = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok) {
    set_err(e, EINVAL, "%s must be a number", name);
    return false;
  }
  if (!(d >= min && d <= max) || d != (double)(int64_t)d) {
    set_err(e, EINVAL, "%s must be an integer in [%.0f, %.0f], got %g", name, min, max, d);
    return false;
  }
  *out = d;
  return true;
}

static bool arg_fd(napi_env env, napi_value v, int *fd, ln_err *e) {
  double d;
  if (!arg_int(env, v, "fd", 0, INT_MAX, &d, e)) return false;
  *fd = (int)d;
  return true;
}

// Optional netns path: undefined/null = the current namespace.
static bool arg_netns(napi_env env, napi_value v, char **out, ln_err *e) {
  *out = NULL;
  if (is_nullish(env, v)) return true;
  return arg_string(env, v, "netns path", PATH_MAX - 1, out, e);
}

// ---- result objects -------------------------------------------------------------------------

static napi_value make_err(napi_env env, const ln_err *e) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_get_boolean(env, false, &v);
  napi_set_named_property(env, obj, "ok", v);
  napi_create_string_utf8(env, errno_name(e->code), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "errno", v);
  napi_create_int32(env, e->code, &v);
  napi_set_named_property(env, obj, "code", v);
  napi_create_string_utf8(env, e->message, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "message", v);
  return obj;
}

static napi_value make_ok(napi_env env, napi_value value) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_get_boolean(env, true, &v);
  napi_set_named_property(env, obj, "ok", v);
  if (value == NULL) napi_get_undefined(env, &value);
  napi_set_named_property(env, obj, "value", value);
  return obj;
}

static napi_value make_ok_number(napi_env env, double n) {
  napi_value v;
  napi_create_double(env, n, &v);
  return make_ok(env, v);
}

#define MAX_ARGS 8
#define GET_ARGS(n)                                                         \
  size_t argc = MAX_ARGS;                                                   \
  napi_value argv[MAX_ARGS];                                                \
  napi_value undef_;                                                        \
  napi_get_undefined(env, &undef_);                                         \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) argc = 0; \
  for (size_t i_ = argc; i_ < MAX_ARGS; i_++) argv[i_] = undef_;           \
  (void)(n)

// ---- listen(netns, host, port, backlog, reuseport, mark) ------------------------------------

static napi_value Listen(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  ln_err e = {0};
  char *path = NULL, *host = NULL;
  double port = 0, backlog = 511, mark = 0;
  bool reuseport = false, has_mark = false;
  napi_value result = NULL;
  int fd = -1;

  if (!arg_netns(env, argv[0], &path, &e)) goto fail;
  if (!arg_string(env, argv[1], "host", INET6_ADDRSTRLEN, &host, &e)) goto fail;
  if (!arg_int(env, argv[2], "port", 0, 65535, &port, &e)) goto fail;
  if (!is_nullish(env, argv[3]) && !arg_int(env, argv[3], "backlog", 1, 65535, &backlog, &e)) goto fail;
  if (!is_nullish(env, argv[4])) {
    napi_valuetype t;
    if (napi_typeof(env, argv[4], &t) != napi_ok || t != napi_boolean) {
      set_err(&e, EINVAL, "reuseport must be a boolean");
      goto fail;
    }
    napi_get_value_bool(env, argv[4], &reuseport);
  }
  if (!is_nullish(env, argv[5])) {
    if (!arg_int(env, argv[5], "mark", 0, 4294967295.0, &mark, &e)) goto fail;
    has_mark = true;
  }

  struct sockaddr_storage ss;
  socklen_t sslen;
  char text[LN_ADDR_TEXT_MAX];
  format_addr(host, (int)port, text, sizeof(text));
  if (!parse_ip(host, (int)port, &ss, &sslen)) {
    set_err(&e, EINVAL, "listen %s: host is not a numeric IPv4 or IPv6 address", text);
    goto fail;
  }

  fd = socket_in_netns(path, ss.ss_family, &e);
  if (fd < 0) goto fail;

  int one = 1;
  // As Node does for its own listeners: rebinding a port with connections in TIME_WAIT works.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    set_err(&e, errno, "setsockopt SO_REUSEADDR for %s", text);
    goto fail;
  }
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    set_err(&e, errno, "setsockopt SO_REUSEPORT for %s", text);
    goto fail;
  }
  if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    set_err(&e, errno, "setsockopt IPV6_V6ONLY for %s", text);
    goto fail;
  }
  if (has_mark) {
    uint32_t m = (uint32_t)mark;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof(m)) != 0) {
      set_err(&e, errno, "setsockopt SO_MARK %u for %s", m, text);
      goto fail;
    }
  }
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    set_err(&e, errno, "bind %s in netns %s", text, path != NULL ? path : "(current)");
    goto fail;
  }
  if (listen(fd, (int)backlog) != 0) {
    set_err(&e, errno, "listen %s in netns %s", text, path != NULL ? path : "(current)");
    goto fail;
  }
  result = make_ok_number(env, fd);
  fd = -1;

fail:
  if (fd >= 0) close(fd);
  free(path);
  free(host);
  return result != NULL ? result : make_err(env, &e);
}

// ---- connect(netns, host, port, mark, localAddress, timeoutMs) -> Promise -------------------

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  struct sockaddr_storage dst;
  socklen_t dstlen;
  char dst_text[LN_ADDR_TEXT_MAX];
  bool has_local;
  struct sockaddr_storage local;
  socklen_t locallen;
  char local_text[LN_ADDR_TEXT_MAX];
  bool has_mark;
  uint32_t mark;
  int timeout_ms;
  int fd;  // the connected socket, or -1
  ln_err err;
} connect_req;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Runs on a libuv pool thread: its setns() never touches the JS thread's namespace.
static void connect_execute(napi_env env, void *data) {
  (void)env;
  connect_req *r = data;
  const char *ns = r->path != NULL ? r->path : "(current)";
  int fd = socket_in_netns(r->path, r->dst.ss_family, &r->err);
  if (fd < 0) return;

  if (r->has_mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &r->mark, sizeof(r->mark)) != 0) {
    set_err(&r->err, errno, "setsockopt SO_MARK %u for connect %s", r->mark, r->dst_text);
    goto fail;
  }
  if (r->has_local && bind(fd, (struct sockaddr *)&r->local, r->locallen) != 0) {
    set_err(&r->err, errno, "bind %s for connect %s in netns %s", r->local_text, r->dst_text, ns);
    goto fail;
  }
  if (connect(fd, (struct sockaddr *)&r->dst, r->dstlen) != 0) {
    if (errno != EINPROGRESS) {
      set_err(&r->err, errno, "connect %s in netns %s", r->dst_text, ns);
      goto fail;
    }
    int64_t deadline = now_ms() + r->timeout_ms;
    for (;;) {
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        set_err(&r->err, ETIMEDOUT, "connect %s in netns %s (after %d ms)", r->dst_text, ns, r->timeout_ms);
        goto fail;
      }
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        set_err(&r->err, errno, "poll for connect %s", r->dst_text);
        goto fail;
      }
      if (n > 0) break;
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
      set_err(&r->err, errno, "getsockopt SO_ERROR for connect %s", r->dst_text);
      goto fail;
    }
    if (soerr != 0) {
      set_err(&r->err, soerr, "connect %s in netns %s", r->dst_text, ns);
      goto fail;
    }
  }
  r->fd = fd;
  return;

fail:
  close(fd);
}

static void connect_complete(napi_env env, napi_status status, void *data) {
  connect_req *r = data;
  napi_value result;
  if (status == napi_cancelled && r->fd >= 0) {
    close(r->fd);
    r->fd = -1;
    set_err(&r->err, ECANCELED, "connect %s", r->dst_text);
  }
  if (r->fd >= 0) {
    result = make_ok_number(env, r->fd);
  } else {
    if (r->err.code == 0) set_err(&r->err, EIO, "connect %s", r->dst_text);
    result = make_err(env, &r->err);
  }
  napi_resolve_deferred(env, r->deferred, result);
  napi_delete_async_work(env, r->work);
  free(r->path);
  free(r);
}

static napi_value Connect(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  ln_err e = {0};
  napi_value promise;
  napi_deferred deferred;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return NULL;

  char *host = NULL, *local = NULL;
  double port = 0, mark = 0, timeout = 10000;
  connect_req *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    set_err(&e, ENOMEM, "connect");
    goto fail;
  }
  r->fd = -1;
  if (!arg_netns(env, argv[0], &r->path, &e)) goto fail;
  if (!arg_string(env, argv[1], "host", INET6_ADDRSTRLEN, &host, &e)) goto fail;
  if (!arg_int(env, argv[2], "port", 1, 65535, &port, &e)) goto fail;
  if (!is_nullish(env, argv[3])) {
    if (!arg_int(env, argv[3], "mark", 0, 4294967295.0, &mark, &e)) goto fail;
    r->has_mark = true;
    r->mark = (uint32_t)mark;
  }
  if (!is_nullish(env, argv[4]) &&
      !arg_string(env, argv[4], "localAddress", INET6_ADDRSTRLEN, &local, &e)) {
    goto fail;
  }
  if (!is_nullish(env, argv[5]) && !arg_int(env, argv[5], "timeoutMs", 1, INT_MAX, &timeout, &e)) goto fail;
  r->timeout_ms = (int)timeout;

  format_addr(host, (int)port, r->dst_text, sizeof(r->dst_text));
  if (!parse_ip(host, (int)port, &r->dst, &r->dstlen)) {
    set_err(&e, EINVAL, "connect %s: host is not a numeric IPv4 or IPv6 address", r->dst_text);
    goto fail;
  }
  if (local != NULL) {
    r->has_local = true;
    snprintf(r->local_text, sizeof(r->local_text), "%s", local);
    if (!parse_ip(local, 0, &r->local, &r->locallen)) {
      set_err(&e, EINVAL, "connect %s: localAddress %s is not a numeric IP address", r->dst_text, local);
      goto fail;
    }
    if (r->local.ss_family != r->dst.ss_family) {
      set_err(&e, EINVAL, "connect %s: localAddress %s is of another address family", r->dst_text, local);
      goto fail;
    }
  }

  napi_value name;
  napi_create_string_utf8(env, "weft.linux-net.connect", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, connect_execute, connect_complete, r, &r->work) != napi_ok) {
    set_err(&e, ENOMEM, "connect %s: napi_create_async_work", r->dst_text);
    goto fail;
  }
  r->deferred = deferred;
  if (napi_queue_async_work(env, r->work) != napi_ok) {
    napi_delete_async_work(env, r->work);
    set_err(&e, ENOMEM, "connect %s: napi_queue_async_work", r->dst_text);
    goto fail;
  }
  free(host);
  free(local);
  return promise;

fail:
  if (r != NULL) {
    free(r->path);
    free(r);
  }
  free(host);
  free(local);
  napi_resolve_deferred(env, deferred, make_err(env, &e));
  return promise;
}

// ---- originalDst(fd) ------------------------------------------------------------------------

static napi_value make_addr_ok(napi_env env, const char *ip, int port, int family) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "ip", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, family, &v);
  napi_set_named_property(env, obj, "family", v);
  return make_ok(env, obj);
}

static napi_value OriginalDst(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ln_err e = {0};
  int fd;
  if (!arg_fd(env, argv[0], &fd, &e)) return make_err(env, &e);

  struct sockaddr_storage self;
  socklen_t selflen = sizeof(self);
  if (getsockname(fd, (struct sockaddr *)&self, &selflen) != 0) {
    set_err(&e, errno, "getsockname fd %d", fd);
    return make_err(env, &e);
  }
  char ip[INET6_ADDRSTRLEN];
  bool v4 = self.ss_family == AF_INET;
  if (self.ss_family == AF_INET6) {
    // An IPv4 connection accepted on a dual-stack IPv6 socket is IPv4 to conntrack.
    v4 = IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&self)->sin6_addr);
  } else if (self.ss_family != AF_INET) {
    set_err(&e, EAFNOSUPPORT, "getsockopt SO_ORIGINAL_DST fd %d: not an IP socket", fd);
    return make_err(env, &e);
  }
  if (v4) {
    struct sockaddr_in dst;
    socklen_t len = sizeof(dst);
    memset(&dst, 0, sizeof(dst));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) {
      set_err(&e, errno, "getsockopt SO_ORIGINAL_DST fd %d", fd);
      return make_err(env, &e);
    }
    inet_ntop(AF_INET, &dst.sin_addr, ip, sizeof(ip));
    return make_addr_ok(env, ip, ntohs(dst.sin_port), 4);
  }
  struct sockaddr_in6 dst;
  socklen_t len = sizeof(dst);
  memset(&dst, 0, sizeof(dst));
  if (getsockopt(fd, SOL_IPV6, LN_IP6T_SO_ORIGINAL_DST, &dst, &len) != 0) {
    set_err(&e, errno, "getsockopt IP6T_SO_ORIGINAL_DST fd %d", fd);
    return make_err(env, &e);
  }
  inet_ntop(AF_INET6, &dst.sin6_addr, ip, sizeof(ip));
  return make_addr_ok(env, ip, ntohs(dst.sin6_port), 6);
}

// ---- localAddress(fd) -----------------------------------------------------------------------

static napi_value LocalAddress(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ln_err e = {0};
  int fd;
  if (!arg_fd(env, argv[0], &fd, &e)) return make_err(env, &e);
  struct sockaddr_storage self;
  socklen_t selflen = sizeof(self);
  if (getsockname(fd, (struct sockaddr *)&self, &selflen) != 0) {
    set_err(&e, errno, "getsockname fd %d", fd);
    return make_err(env, &e);
  }
  char ip[INET6_ADDRSTRLEN];
  if (self.ss_family == AF_INET) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self;
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
    return make_addr_ok(env, ip, ntohs(v4->sin_port), 4);
  }
  if (self.ss_family == AF_INET6) {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self;
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
    return make_addr_ok(env, ip, ntohs(v6->sin6_port), 6);
  }
  set_err(&e, EAFNOSUPPORT, "getsockname fd %d: not an IP socket", fd);
  return make_err(env, &e);
}

// ---- setMark(fd, mark) / getMark(fd) --------------------------------------------------------

static napi_value SetMark(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  ln_err e = {0};
  int fd;
  double mark;
  if (!arg_fd(env, argv[0], &fd, &e)) return make_err(env, &e);
  if (!arg_int(env, argv[1], "mark", 0, 4294967295.0, &mark, &e)) return make_err(env, &e);
  uint32_t m = (uint32_t)mark;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof(m)) != 0) {
    set_err(&e, errno, "setsockopt SO_MARK %u fd %d", m, fd);
    return make_err(env, &e);
  }
  return make_ok(env, NULL);
}

static napi_value GetMark(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ln_err e = {0};
  int fd;
  if (!arg_fd(env, argv[0], &fd, &e)) return make_err(env, &e);
  uint32_t m = 0;
  socklen_t len = sizeof(m);
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &m, &len) != 0) {
    set_err(&e, errno, "getsockopt SO_MARK fd %d", fd);
    return make_err(env, &e);
  }
  return make_ok_number(env, m);
}

// ---- module ---------------------------------------------------------------------------------

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"listen", NULL, Listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, Connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDst", NULL, OriginalDst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, SetMark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, GetMark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localAddress", NULL, LocalAddress, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
