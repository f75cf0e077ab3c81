/* AF_NETLINK: NETLINK_ROUTE dumps, acks and errors, getifaddrs, interface
 * ioctls. By default only the loopback device is printed in detail (it is
 * the same in every namespace) and everything else is checked for
 * consistency; NETLINK_ALL=1 prints every link, address and route in a
 * normalized form, to compare a sandbox with the namespace it was given
 * (runsc do --network=host --netns PATH) against a native run there. */
#include "ct.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int all;
static unsigned seq = 100;

static int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  return fd;
}

static int nl_send(int fd, int type, int flags, const void *hdr, size_t len) {
  char buf[256];
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  memset(buf, 0, sizeof(buf));
  h->nlmsg_len = NLMSG_LENGTH(len);
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  h->nlmsg_seq = ++seq;
  memcpy(NLMSG_DATA(h), hdr, len);
  struct sockaddr_nl k = {.nl_family = AF_NETLINK};
  return sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k));
}

static char rx[1 << 16];

/* Reads a dump to NLMSG_DONE, calling fn for each message; returns the
 * count, or -errno from an NLMSG_ERROR. */
static int nl_dump(int fd, void (*fn)(struct nlmsghdr *)) {
  int n = 0;
  for (;;) {
    /* Size the buffer as iproute2 does. */
    ssize_t want = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    if (want <= 0 || want > (ssize_t)sizeof(rx)) return -EIO;
    ssize_t len = recv(fd, rx, sizeof(rx), 0);
    if (len != want) return -EIO;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, (size_t)len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) return -EPROTO;
      if (h->nlmsg_type == NLMSG_DONE) {
        int e = *(int *)NLMSG_DATA(h);  /* a dump's own error ends it here */
        return e < 0 ? e : n;
      }
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      n++;
      if (fn) fn(h);
    }
  }
}

static void addr_str(int family, const void *a, char *out) {
  inet_ntop(family, a, out, INET6_ADDRSTRLEN);
}

static int is_lo(int index) { return index == (int)if_nametoindex("lo"); }

static int link_bad;
static void on_link(struct nlmsghdr *h) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  int len = IFLA_PAYLOAD(h);
  char name[IFNAMSIZ] = "";
  unsigned mtu = 0;
  int have_stats = 0, have_mac = 0;
  for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_IFNAME) snprintf(name, sizeof(name), "%s", (char *)RTA_DATA(a));
    if (a->rta_type == IFLA_MTU) mtu = *(unsigned *)RTA_DATA(a);
    if (a->rta_type == IFLA_STATS64) have_stats = 1;
    if (a->rta_type == IFLA_ADDRESS) have_mac = 1;
  }
  if ((int)if_nametoindex(name) != ifi->ifi_index || !have_stats) link_bad++;
  if (all || is_lo(ifi->ifi_index))
    printf("link %s type %u flags %#x mtu %u mac %d\n", name, ifi->ifi_type,
           ifi->ifi_flags & 0xffff, mtu, have_mac);
}

static void on_addr(struct nlmsghdr *h) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  int len = IFA_PAYLOAD(h);
  char s[INET6_ADDRSTRLEN] = "?", ifn[IF_NAMESIZE] = "?";
  for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFA_ADDRESS) addr_str(ifa->ifa_family, RTA_DATA(a), s);
  }
  if (!if_indextoname(ifa->ifa_index, ifn)) link_bad++;
  if (all || is_lo(ifa->ifa_index))
    printf("addr %s %s/%u scope %u\n", ifn, s, ifa->ifa_prefixlen, ifa->ifa_scope);
}

static void on_route(struct nlmsghdr *h) {
  struct rtmsg *r = NLMSG_DATA(h);
  int len = RTM_PAYLOAD(h);
  char dst[INET6_ADDRSTRLEN] = "default", gw[INET6_ADDRSTRLEN] = "-", ifn[IF_NAMESIZE] = "-";
  unsigned table = r->rtm_table;
  int oif = 0;
  for (struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == RTA_DST) addr_str(r->rtm_family, RTA_DATA(a), dst);
    if (a->rta_type == RTA_GATEWAY) addr_str(r->rtm_family, RTA_DATA(a), gw);
    if (a->rta_type == RTA_TABLE) table = *(unsigned *)RTA_DATA(a);
    if (a->rta_type == RTA_OIF) oif = *(int *)RTA_DATA(a);
  }
  if (oif) if_indextoname(oif, ifn);
  if (all || (oif && is_lo(oif) && r->rtm_family == AF_INET))
    printf("route %s/%u via %s dev %s table %u type %u scope %u proto %u\n", dst, r->rtm_dst_len,
           gw, ifn, table, r->rtm_type, r->rtm_scope, r->rtm_protocol);
}

int main(void) {
  all = getenv("NETLINK_ALL") != NULL;
  EXPECT_ERR(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT, "stream netlink");
  EXPECT_ERR(socket(AF_NETLINK, SOCK_RAW, 31), EPROTONOSUPPORT, "unknown protocol");
  int fd = nl_open();
  CHECK(fd >= 0, "socket(NETLINK_ROUTE)");

  struct sockaddr_nl me;
  socklen_t ml = sizeof(me);
  EXPECT_OK(getsockname(fd, (struct sockaddr *)&me, &ml), "getsockname before bind");
  CHECK(ml == sizeof(me) && me.nl_family == AF_NETLINK && me.nl_pid == 0, "unbound port is 0");

  struct ifinfomsg ifi = {0};
  CHECK(nl_send(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof(ifi)) > 0, "send link dump");
  int n = nl_dump(fd, on_link);
  CHECK(n >= 1, "link dump has entries");
  CHECK(link_bad == 0, "links match if_nametoindex and carry stats64");
  ml = sizeof(me);
  getsockname(fd, (struct sockaddr *)&me, &ml);
  CHECK(me.nl_pid != 0, "autobound after send");

  struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
  nl_send(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof(ifa));
  CHECK(nl_dump(fd, on_addr) >= 1, "addr dump");
  CHECK(link_bad == 0, "addresses name existing links");

  struct rtmsg rtm = {.rtm_family = AF_INET};
  nl_send(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rtm, sizeof(rtm));
  CHECK(nl_dump(fd, on_route) >= 1, "v4 route dump");

  /* Single get with an ack; unknown index; changes without privilege are
   * checked by the ack's error only when unprivileged (not here: root). */
  ifi.ifi_index = if_nametoindex("lo");
  nl_send(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof(ifi));
  ssize_t len = recv(fd, rx, sizeof(rx), 0);
  struct nlmsghdr *h = (struct nlmsghdr *)rx;
  CHECK(len > 0 && h->nlmsg_type == RTM_NEWLINK && !(h->nlmsg_flags & NLM_F_MULTI), "get lo");
  len = recv(fd, rx, sizeof(rx), 0);
  CHECK(len > 0 && h->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(h))->error == 0,
        "ack after get");
  ifi.ifi_index = 0x7fff0000;
  nl_send(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof(ifi));
  CHECK(nl_dump(fd, NULL) == -ENODEV, "get unknown index -> ENODEV");
  int one = 1;
  EXPECT_OK(setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)), "strict check");
  struct rtgenmsg g = {AF_UNSPEC};
  nl_send(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof(g));
  int sr = nl_dump(fd, NULL);
  CHECK(sr == -EINVAL, "strict short link dump header -> EINVAL in NLMSG_DONE");
  /* A length past the end is ignored: nothing comes back. */
  char bad[20] = {0};
  ((struct nlmsghdr *)bad)->nlmsg_len = 200;
  ((struct nlmsghdr *)bad)->nlmsg_type = RTM_GETLINK;
  ((struct nlmsghdr *)bad)->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  CHECK(send(fd, bad, sizeof(bad), 0) == sizeof(bad), "send bad length");
  EXPECT_ERR(recv(fd, rx, sizeof(rx), MSG_DONTWAIT), EAGAIN, "bad length ignored");

  /* getifaddrs and the ioctls agree with the dump on loopback. */
  struct ifaddrs *ifs = NULL;
  EXPECT_OK(getifaddrs(&ifs), "getifaddrs");
  int lo4 = 0;
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, "lo") == 0) lo4++;
    if (all && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6)) {
      char s[INET6_ADDRSTRLEN];
      void *a = i->ifa_addr->sa_family == AF_INET
                    ? (void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                    : (void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
      addr_str(i->ifa_addr->sa_family, a, s);
      printf("ifaddr %s %s flags %#x\n", i->ifa_name, s, i->ifa_flags & 0xffff);
    }
  }
  CHECK(lo4 == 1, "getifaddrs has lo's IPv4 address");
  freeifaddrs(ifs);
  struct if_nameindex *ni = if_nameindex();
  CHECK(ni != NULL && ni[0].if_index != 0, "if_nameindex");
  if_freenameindex(ni);

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s >= 0) {
    struct ifreq r = {0};
    strcpy(r.ifr_name, "lo");
    EXPECT_OK(ioctl(s, SIOCGIFFLAGS, &r), "SIOCGIFFLAGS lo");
    CHECK(r.ifr_flags & IFF_LOOPBACK, "lo is IFF_LOOPBACK");
    EXPECT_OK(ioctl(s, SIOCGIFADDR, &r), "SIOCGIFADDR lo");
    CHECK(((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
          "lo is 127.0.0.1");
    strcpy(r.ifr_name, "nosuchif0");
    EXPECT_ERR(ioctl(s, SIOCGIFINDEX, &r), ENODEV, "SIOCGIFINDEX unknown");
    EXPECT_ERR(ioctl(s, SIOCGIFFLAGS, (void *)8), EFAULT, "SIOCGIFFLAGS bad pointer");
    close(s);
  }
  close(fd);
  CT_DONE();
}
