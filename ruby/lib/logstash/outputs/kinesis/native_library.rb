# encoding: utf-8
require "java"

class LogStash::Outputs::Kinesis
  # Finds the bridge's native library for this JVM inside the gem:
  # vendor/native/<os>-<arch>[-musl]/libkinesis_producer_jni.so. The library is loaded from
  # there, never extracted to /tmp (a noexec /tmp would break it).
  module NativeLibrary
    # No library in the gem matches this JVM's platform.
    class Unsupported < StandardError; end

    FILE_NAME = "libkinesis_producer_jni.so".freeze
    GEM_ROOT = File.expand_path("../../../../..", __FILE__)
    DEFAULT_DIR = File.join(GEM_ROOT, "vendor", "native")
    # The JVM's os.arch values, by the architecture names the platform directories use.
    ARCH_NAMES = { "amd64" => "x86_64", "x86_64" => "x86_64", "aarch64" => "aarch64", "arm64" => "aarch64" }.freeze

    module_function

    # Path of the library for this JVM; raises Unsupported naming the platform and the
    # directories looked in when the gem has none for it.
    def path(native_dir = DEFAULT_DIR, os_name: java_property("os.name"), os_arch: java_property("os.arch"),
             libc: detect_libc)
      candidates = platform_dirs(os_name, os_arch, libc).map { |dir| File.join(native_dir, dir) }
      found = candidates.find { |dir| File.file?(File.join(dir, FILE_NAME)) }
      return File.join(found, FILE_NAME) if found

      shipped = Dir.glob(File.join(native_dir, "*", FILE_NAME)).map { |f| File.basename(File.dirname(f)) }.sort
      raise Unsupported, "logstash-output-kinesis has no native library for this platform " \
                         "(os.name=#{os_name}, os.arch=#{os_arch}, libc=#{libc}): looked for #{FILE_NAME} in " \
                         "#{candidates.join(', ')}; this gem ships: " \
                         "#{shipped.empty? ? 'none' : shipped.join(', ')}"
    end

    # Platform directory names to try, best first: "linux-x86_64", "linux-aarch64-musl", ...
    def platform_dirs(os_name, os_arch, libc)
      os = os_name.to_s.downcase.split.first.to_s
      arch = ARCH_NAMES.fetch(os_arch.to_s, os_arch.to_s)
      libc == "musl" ? ["#{os}-#{arch}-musl"] : ["#{os}-#{arch}"]
    end

    # "musl" when this process runs on musl libc (Alpine), else "glibc". The JVM's own
    # memory map names the C library it was started with.
    def detect_libc(maps_file = "/proc/self/maps", musl_loaders = "/lib/ld-musl-*.so.1")
      maps = File.readable?(maps_file) ? File.read(maps_file) : ""
      return maps =~ /ld-musl|libc\.musl/ ? "musl" : "glibc" unless maps.empty?

      Dir.glob(musl_loaders).empty? ? "glibc" : "musl"
    end

    def java_property(name)
      java.lang.System.getProperty(name)
    end
  end
end
