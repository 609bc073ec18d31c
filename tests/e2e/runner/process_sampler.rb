# encoding: utf-8
require "json"

# Reads this process's resident memory, threads, file descriptors and CPU time (all threads,
# and the native producer's threads alone) from /proc, and, with a path, writes them as a
# JSON line every interval (flushed, so a killed process leaves its samples behind).
class ProcessSampler
  CLOCK_TICKS = 100.0
  # The native producer names its threads "kinesis-producer" (shown cut to 15 characters).
  ENGINE_THREAD = "kinesis-produc".freeze

  # Memory in KiB, thread and descriptor counts, CPU seconds (user + system).
  def self.now
    status = File.read("/proc/self/status")
    field = ->(name) { status[/^#{name}:\s+(\d+)/, 1].to_i }
    stat = cpu_ticks(File.read("/proc/self/stat"))
    {
      "rss_kb" => field.call("VmRSS"),
      "peak_rss_kb" => field.call("VmHWM"),
      "threads" => field.call("Threads"),
      "fds" => Dir.children("/proc/self/fd").size,
      "cpu_s" => (stat / CLOCK_TICKS).round(2),
      "engine_cpu_s" => (engine_ticks / CLOCK_TICKS).round(2),
    }
  end

  # User plus system clock ticks of a /proc stat line.
  def self.cpu_ticks(stat_line)
    fields = stat_line.split(") ", 2).last.split
    fields[11].to_i + fields[12].to_i
  end

  # CPU ticks of the native producer's threads (those still running).
  def self.engine_ticks
    engine_tasks.sum do |task|
      cpu_ticks(File.read("#{task}/stat"))
    rescue SystemCallError
      0 # ended since it was listed
    end
  end

  # Number of the native producer's threads.
  def self.engine_threads
    engine_tasks.size
  end

  # /proc directories of the native producer's threads.
  def self.engine_tasks
    Dir.glob("/proc/self/task/*").select do |task|
      File.read("#{task}/comm").start_with?(ENGINE_THREAD)
    rescue SystemCallError
      # The thread ended between the listing and the read (JRuby may not name the errno).
      false
    end
  end

  # extra: a callable returning a Hash merged into each sample (e.g. plugin gauges).
  def initialize(path, interval_s, extra = -> { {} })
    @file = File.open(path, "a")
    @interval_s = interval_s
    @extra = extra
    @started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    @lock = Mutex.new
    @wake = ConditionVariable.new
    @stopping = false
    @thread = Thread.new { run }
  end

  # Writes a last sample and stops.
  def stop
    @lock.synchronize do
      @stopping = true
      @wake.signal
    end
    @thread.join
    @file.close
  end

  private

  def run
    loop do
      write_sample
      break if wait_or_stop
    end
    write_sample
  end

  # Sleeps one interval; true when asked to stop.
  def wait_or_stop
    @lock.synchronize do
      @wake.wait(@lock, @interval_s) unless @stopping
      @stopping
    end
  end

  def write_sample
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - @started
    @file.write(JSON.generate({ "t" => elapsed.round(2) }.merge(self.class.now).merge(@extra.call)) + "\n")
    @file.flush
  rescue StandardError => e
    $stderr.puts("pipeline_runner: sample failed: #{e.message}")
  end
end
