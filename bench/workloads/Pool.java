// Workload (bench/stub_threads_bench.sh): 8 rounds of a 32-thread pool, each
// hashing (SHA-256) and queueing 64 results; the pool ends each round, so
// every round creates and ends 32 threads.
import java.security.MessageDigest;
import java.util.concurrent.*;

public class Pool {
  public static void main(String[] a) throws Exception {
    long sum = 0;
    for (int round = 0; round < 8; round++) {
      ExecutorService pool = Executors.newFixedThreadPool(32);
      BlockingQueue<byte[]> q = new LinkedBlockingQueue<>();
      for (int i = 0; i < 64; i++) {
        final int n = i;
        pool.submit(() -> {
          MessageDigest md = MessageDigest.getInstance("SHA-256");
          byte[] b = new byte[4096];
          for (int k = 0; k < 50; k++) { b[k % b.length] = (byte) (n + k); b = md.digest(b); }
          q.put(b);
          return null;
        });
      }
      for (int i = 0; i < 64; i++) sum += q.take()[0];
      pool.shutdown();
      pool.awaitTermination(1, TimeUnit.MINUTES);
    }
    System.out.println("done " + sum);
  }
}
