package kinesis.producer.bridge;

/**
 * Outcomes of every record of one submitted batch, in submit order: delivered, or failed with an
 * error code and message; plus the number of send attempts. Codes and messages are null for
 * delivered records, and equal texts share one String.
 */
public final class BatchOutcomes {
    /** Status of a delivered record. */
    public static final byte DELIVERED = 0;
    /** Status of a failed record. */
    public static final byte FAILED = 1;

    private final byte[] status;
    private final int[] attempts;
    private final String[] codes;
    private final String[] messages;
    private final int failedCount;

    BatchOutcomes(byte[] status, int[] attempts, String[] codes, String[] messages) {
        this.status = status;
        this.attempts = attempts;
        this.codes = codes;
        this.messages = messages;
        int failed = 0;
        for (byte s : status) {
            if (s != DELIVERED) {
                failed++;
            }
        }
        this.failedCount = failed;
    }

    /** Number of records in the batch. */
    public int size() {
        return status.length;
    }

    /** Number of records that failed. */
    public int failedCount() {
        return failedCount;
    }

    /** True when every record was delivered. */
    public boolean allDelivered() {
        return failedCount == 0;
    }

    /** True when record {@code index} was delivered. */
    public boolean isDelivered(int index) {
        return status[index] == DELIVERED;
    }

    /** {@link #DELIVERED} or {@link #FAILED}. */
    public byte status(int index) {
        return status[index];
    }

    /** Times record {@code index} was sent (0 when it was refused before sending). */
    public int attempts(int index) {
        return attempts[index];
    }

    /** Error code of a failed record, e.g. {@code InvalidPartitionKey}, {@code Expired}; null if delivered. */
    public String code(int index) {
        return codes[index];
    }

    /** Error message of a failed record; null if delivered. */
    public String message(int index) {
        return messages[index];
    }

    /** Positions of the failed records, in increasing order. */
    public int[] failedIndexes() {
        int[] failed = new int[failedCount];
        int next = 0;
        for (int i = 0; i < status.length; i++) {
            if (status[i] != DELIVERED) {
                failed[next++] = i;
            }
        }
        return failed;
    }

    @Override
    public String toString() {
        return "BatchOutcomes{size=" + size() + ", failed=" + failedCount + "}";
    }
}
