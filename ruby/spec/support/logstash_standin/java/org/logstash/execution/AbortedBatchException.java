package org.logstash.execution;

/** Stand-in for Logstash 8.8+: an output raises it to hand its batch back unacked at shutdown. */
public class AbortedBatchException extends RuntimeException {
    public AbortedBatchException() {
        super("batch aborted at shutdown");
    }
}
