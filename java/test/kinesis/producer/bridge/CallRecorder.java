package kinesis.producer.bridge;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.Marker;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.filter.AbstractFilter;
import org.apache.logging.log4j.message.Message;

/**
 * A log4j2 configuration-level filter that counts the log calls made on the native loggers,
 * including calls below the logger's level (which log4j2 would drop silently), without changing
 * what is logged. Level checks such as isDebugEnabled() carry no message and are not counted.
 */
final class CallRecorder extends AbstractFilter {
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

    private Result record(Logger logger, Level level, Object message) {
        if (message != null && logger.getName().startsWith(NativeProducer.LOGGER_NAME)) {
            calls.computeIfAbsent(logger.getName() + " " + level, key -> new AtomicInteger()).incrementAndGet();
        }
        return Result.NEUTRAL;
    }

    /** Calls made on {@code logger} at {@code level} since the last reset. */
    int count(String logger, Level level) {
        AtomicInteger count = calls.get(logger + " " + level);
        return count == null ? 0 : count.get();
    }

    void reset() {
        calls.clear();
    }

    @Override
    public Result filter(Logger logger, Level level, Marker marker, String message, Object... parameters) {
        return record(logger, level, message);
    }

    @Override
    public Result filter(Logger logger, Level level, Marker marker, Object message, Throwable thrown) {
        return record(logger, level, message);
    }

    @Override
    public Result filter(Logger logger, Level level, Marker marker, Message message, Throwable thrown) {
        return record(logger, level, message);
    }

    @Override
    public Result filter(LogEvent event) {
        return Result.NEUTRAL;
    }
}
