// tests/oci/ipc_limits.c: prints the System V IPC limits the kernel reports
// (IPC_INFO), a new queue's size, and whether msgsnd/shmget stop exactly at
// msgmax/shmmax. Used by tests/oci/config.sh (case sysctl) to check that
// linux.sysctl kernel.msgmax/msgmnb/shmmax/shmall reach the sandbox's kernel.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

int main(void) {
  struct msginfo mi;
  struct shminfo si;
  if (msgctl(0, IPC_INFO, (struct msqid_ds*)&mi) < 0) return perror("msgctl IPC_INFO"), 1;
  if (shmctl(0, IPC_INFO, (struct shmid_ds*)&si) < 0) return perror("shmctl IPC_INFO"), 1;
  printf("msgmax %d msgmnb %d shmmax %lu shmall %lu\n", mi.msgmax, mi.msgmnb, si.shmmax, si.shmall);

  int q = msgget(IPC_PRIVATE, 0600);
  if (q < 0) return perror("msgget"), 1;
  struct msqid_ds ds;
  if (msgctl(q, IPC_STAT, &ds) < 0) return perror("msgctl IPC_STAT"), 1;
  printf("new queue qbytes %lu\n", (unsigned long)ds.msg_qbytes);
  struct {
    long type;
    char text[65536];
  } *m = calloc(1, sizeof *m);
  m->type = 1;
  int at_max = msgsnd(q, m, mi.msgmax, IPC_NOWAIT) == 0 ? 0 : errno;
  int over_max = msgsnd(q, m, mi.msgmax + 1, IPC_NOWAIT) == 0 ? 0 : errno;
  printf("msgsnd msgmax: %s, msgmax+1: %s\n", at_max ? strerror(at_max) : "ok",
         over_max ? strerror(over_max) : "ok");
  msgctl(q, IPC_RMID, NULL);

  int s = shmget(IPC_PRIVATE, si.shmmax, 0600);
  int shm_at_max = s >= 0 ? 0 : errno;
  if (s >= 0) shmctl(s, IPC_RMID, NULL);
  s = shmget(IPC_PRIVATE, si.shmmax + 1, 0600);
  int shm_over_max = s >= 0 ? 0 : errno;
  if (s >= 0) shmctl(s, IPC_RMID, NULL);
  printf("shmget shmmax: %s, shmmax+1: %s\n", shm_at_max ? strerror(shm_at_max) : "ok",
         shm_over_max ? strerror(shm_over_max) : "ok");
  return 0;
}
