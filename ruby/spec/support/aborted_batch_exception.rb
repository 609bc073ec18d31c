# encoding: utf-8
# Compiles the stand-in's org.logstash.execution.AbortedBatchException (Logstash 8.8+) and puts
# it on the class path, so the plugin finds it exactly as inside Logstash. The classes are
# cached in the temp directory under the source's digest.
require "java"
require "digest"
require "tmpdir"
require "fileutils"

module AbortedBatchExceptionStandIn
  SOURCE = File.expand_path("logstash_standin/java/org/logstash/execution/AbortedBatchException.java", __dir__)
  CLASSES = File.join(Dir.tmpdir, "kinesis-spec-classes-#{Digest::SHA256.file(SOURCE).hexdigest[0, 16]}")
  CLASS_FILE = File.join(CLASSES, "org", "logstash", "execution", "AbortedBatchException.class")

  unless File.exist?(CLASS_FILE)
    javac = File.join(ENV_JAVA["java.home"], "bin", "javac")
    javac = "javac" unless File.executable?(javac)
    building = "#{CLASSES}.#{Process.pid}"
    raise "could not compile #{SOURCE} with #{javac}" unless system(javac, "--release", "11", "-d", building, SOURCE)
    FileUtils.rm_rf(CLASSES)
    File.rename(building, CLASSES)
  end
  $CLASSPATH << "#{CLASSES}/"
end
