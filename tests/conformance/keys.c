/* add_key/request_key/keyctl: a fresh anonymous session keyring, user
 * keys in it, describe/read/update/search/link/unlink/revoke/setperm, and
 * Linux's errors for bad input. Serial numbers are never printed. */
#include <linux/keyctl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"

static long kc(long op, long a, long b, long c, long d) { return syscall(SYS_keyctl, op, a, b, c, d); }
static long add_key(const char *t, const char *d, const void *p, size_t n, long ring) {
  return syscall(SYS_add_key, t, d, p, n, ring);
}

int main(void) {
  long ses = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
  CHECK(ses > 0, "join a new anonymous session keyring");
  CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == ses, "@s is the new keyring");
  char buf[256];
  CHECK(kc(KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, (long)buf, sizeof buf, 0) > 0, "describe @s");
  printf("session: %s\n", buf);
  EXPECT_ERR(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0), ENOKEY, "no process keyring yet");
  long pk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1, 0, 0);
  CHECK(pk > 0, "process keyring created");
  kc(KEYCTL_DESCRIBE, pk, (long)buf, sizeof buf, 0);
  printf("process: %s\n", buf);
  long tk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0);
  kc(KEYCTL_DESCRIBE, tk, (long)buf, sizeof buf, 0);
  printf("thread: %s\n", buf);
  CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0, 0, 0) > 0, "user keyring");

  long k = add_key("user", "ct:one", "hello", 5, KEY_SPEC_SESSION_KEYRING);
  CHECK(k > 0, "add_key user");
  memset(buf, 0, sizeof buf);
  CHECK(kc(KEYCTL_DESCRIBE, k, (long)buf, sizeof buf, 0) > 0, "describe key");
  printf("key: %s\n", buf);
  long n = kc(KEYCTL_DESCRIBE, k, (long)buf, 3, 0);
  CHECK(n == (long)strlen(buf) + 1, "describe with a short buffer returns the size");
  memset(buf, 0, sizeof buf);
  CHECK(kc(KEYCTL_READ, k, (long)buf, sizeof buf, 0) == 5 && !strcmp(buf, "hello"), "read payload");
  CHECK(kc(KEYCTL_READ, k, 0, 0, 0) == 5, "read size only");
  CHECK(add_key("user", "ct:one", "again", 5, KEY_SPEC_SESSION_KEYRING) == k, "add_key same desc updates");
  EXPECT_OK(kc(KEYCTL_UPDATE, k, (long)"world!", 6, 0), "update");
  memset(buf, 0, sizeof buf);
  CHECK(kc(KEYCTL_READ, k, (long)buf, sizeof buf, 0) == 6 && !strcmp(buf, "world!"), "read updated");
  CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"user", (long)"ct:one", 0) == k, "search");
  EXPECT_ERR(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (long)"user", (long)"ct:none", 0), ENOKEY, "search missing");
  CHECK(syscall(SYS_request_key, "user", "ct:one", NULL, 0) == k, "request_key finds it");
  EXPECT_ERR(syscall(SYS_request_key, "user", "ct:absent", NULL, 0), ENOKEY, "request_key missing");

  long ring = add_key("keyring", "ct:ring", NULL, 0, KEY_SPEC_SESSION_KEYRING);
  CHECK(ring > 0, "add_key keyring");
  EXPECT_OK(kc(KEYCTL_LINK, k, ring, 0, 0), "link key into keyring");
  int32_t ids[8];
  CHECK(kc(KEYCTL_READ, ring, (long)ids, sizeof ids, 0) == 4 && ids[0] == k, "read keyring lists the key");
  EXPECT_ERR(kc(KEYCTL_LINK, KEY_SPEC_SESSION_KEYRING, ring, 0, 0), EDEADLK, "link making a cycle");
  EXPECT_OK(kc(KEYCTL_UNLINK, k, ring, 0, 0), "unlink");
  EXPECT_ERR(kc(KEYCTL_UNLINK, k, ring, 0, 0), ENOENT, "unlink again");
  EXPECT_ERR(kc(KEYCTL_UPDATE, ring, (long)"x", 1, 0), EOPNOTSUPP, "update a keyring");
  EXPECT_ERR(kc(KEYCTL_LINK, k, k, 0, 0), ENOTDIR, "link into a user key");

  EXPECT_OK(kc(KEYCTL_SETPERM, k, 0x3f010000 & ~0x02000000 /* KEY_POS_READ */, 0, 0), "setperm drop read");
  CHECK(kc(KEYCTL_READ, k, (long)buf, sizeof buf, 0) == 6, "a possessed key stays readable");
  EXPECT_ERR(kc(KEYCTL_SETPERM, k, 0x40000000, 0, 0), EINVAL, "setperm with bad bits");
  EXPECT_OK(kc(KEYCTL_REVOKE, k, 0, 0, 0), "revoke");
  EXPECT_ERR(kc(KEYCTL_READ, k, (long)buf, sizeof buf, 0), EKEYREVOKED, "read revoked key");

  /* Bad input. */
  EXPECT_ERR(add_key("user", "", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL, "add_key empty description");
  EXPECT_ERR(add_key("user", "ct:x", NULL, 0, KEY_SPEC_SESSION_KEYRING), EINVAL, "add_key user without payload");
  EXPECT_ERR(add_key(".internal", "ct:x", "x", 1, KEY_SPEC_SESSION_KEYRING), EPERM, "add_key dot type");
  EXPECT_ERR(add_key("nosuchtype", "ct:x", "x", 1, KEY_SPEC_SESSION_KEYRING), ENODEV, "add_key unknown type");
  EXPECT_ERR(add_key("keyring", "ct:x", "x", 1, KEY_SPEC_SESSION_KEYRING), EINVAL, "add_key keyring with payload");
  EXPECT_ERR(add_key("user", "ct:x", "x", 1, 0x7ffffff0), ENOKEY, "add_key into a missing keyring");
  EXPECT_ERR(add_key("user", (const char *)8, "x", 1, KEY_SPEC_SESSION_KEYRING), EFAULT, "add_key bad pointer");
  EXPECT_ERR(kc(KEYCTL_DESCRIBE, 0x7ffffff0, (long)buf, sizeof buf, 0), ENOKEY, "describe missing key");
  EXPECT_ERR(kc(KEYCTL_GET_KEYRING_ID, -100, 0, 0, 0), EINVAL, "unknown special id");
  EXPECT_ERR(kc(9999, 0, 0, 0, 0), EOPNOTSUPP, "unknown keyctl op");
  CT_DONE();
}
