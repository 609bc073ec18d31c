# encoding: utf-8

# The sequence numbers of the batches whose multi_receive returned, one line per batch
# ("0-124,300,302-310"), appended and fsynced before the batch counts as acked. A process
# killed mid-write leaves a last line without its newline: that batch was not acked.
class AckedLog
  # Sequence numbers acked in `path` (an empty set when it does not exist).
  def self.read(path)
    acked = {}
    return acked unless File.exist?(path)
    File.read(path).each_line do |line|
      next unless line.end_with?("\n")
      line.chomp.split(",").each do |part|
        first, last = part.split("-", 2).map { |n| Integer(n) }
        (first..(last || first)).each { |seq| acked[seq] = true }
      end
    end
    acked
  end

  # "0-3,7,9-10" for [0, 1, 2, 3, 7, 9, 10].
  def self.ranges(seqs)
    seqs.slice_when { |a, b| b != a + 1 }.map { |run| run.size == 1 ? run.first.to_s : "#{run.first}-#{run.last}" }.join(",")
  end

  # Flushes `before_ack` (e.g. the dead letter file) before each line is written.
  def initialize(path, before_ack = nil)
    @file = File.open(path, "a")
    @before_ack = before_ack
    @lock = Mutex.new
  end

  # Records a returned batch; returns once the line is on disk.
  def ack(seqs)
    return if seqs.empty?
    line = "#{self.class.ranges(seqs)}\n"
    @lock.synchronize do
      @before_ack.sync_to_disk if @before_ack
      @file.write(line)
      @file.flush
      @file.fsync
    end
  end

  def close
    @lock.synchronize { @file.close }
  end
end
