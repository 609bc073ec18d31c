# encoding: utf-8
require "json"

# A dead letter queue that survives the process: each entry is a JSON line
# {"id", "case", "partition_key", "reason"} written to the kernel at once (so SIGKILL cannot
# lose it) and fsynced before the next batch is acked. Plugs into the stand-in's
# DeadLetterQueueWriter as its inner writer.
class FileDeadLetterQueue
  attr_reader :count

  def initialize(path)
    @file = File.open(path, "a")
    @lock = Mutex.new
    @dirty = false
    @count = 0
  end

  # The stand-in writer's call: the event as a Hash (with @metadata), who wrote it and why.
  def write_entry(event_hash, _plugin_type, _plugin_id, reason)
    metadata = event_hash["@metadata"] || {}
    line = JSON.generate("id" => event_hash["id"], "case" => event_hash["case"],
                         "partition_key" => text(metadata["partition_key"]), "reason" => reason)
    @lock.synchronize do
      @file.write(line + "\n")
      @file.flush
      @dirty = true
      @count += 1
    end
  end

  # fsyncs what was written since the last call.
  def sync_to_disk
    @lock.synchronize do
      next unless @dirty
      @file.fsync
      @dirty = false
    end
  end

  def close
    @lock.synchronize { @file.close }
  end

  private

  # Partition keys may hold invalid UTF-8; JSON needs valid text.
  def text(value)
    return nil if value.nil?
    value = value.to_s
    value.valid_encoding? ? value : value.scrub
  end
end
