# encoding: utf-8
require "tmpdir"
require "fileutils"

# Picking the bridge's native library by os.name, os.arch and libc from vendor/native/.
RSpec.describe LogStash::Outputs::Kinesis::NativeLibrary do
  around do |example|
    Dir.mktmpdir("native-library-spec") do |dir|
      @native_dir = dir
      example.run
    end
  end

  def ship(platform)
    FileUtils.mkdir_p(File.join(@native_dir, platform))
    File.write(File.join(@native_dir, platform, "libkinesis_producer_jni.so"), "")
  end

  def path_for(arch, libc, os_name: "Linux")
    described_class.path(@native_dir, :os_name => os_name, :os_arch => arch, :libc => libc)
  end

  before do
    %w[linux-x86_64 linux-aarch64 linux-x86_64-musl].each { |platform| ship(platform) }
  end

  it "picks the directory of the JVM's os.arch, with the JVM's names for x86_64 and aarch64" do
    expect(path_for("amd64", "glibc")).to eq(File.join(@native_dir, "linux-x86_64", "libkinesis_producer_jni.so"))
    expect(path_for("x86_64", "glibc")).to eq(File.join(@native_dir, "linux-x86_64", "libkinesis_producer_jni.so"))
    expect(path_for("aarch64", "glibc")).to eq(File.join(@native_dir, "linux-aarch64", "libkinesis_producer_jni.so"))
  end

  it "picks the -musl directory on musl libc and never the glibc one" do
    expect(path_for("amd64", "musl")).to eq(File.join(@native_dir, "linux-x86_64-musl", "libkinesis_producer_jni.so"))
    expect { path_for("aarch64", "musl") }.to raise_error(described_class::Unsupported, /linux-aarch64-musl/)
  end

  it "names the platform, the directories looked in and what the gem ships when nothing matches" do
    expect { path_for("ppc64le", "glibc") }.to raise_error(described_class::Unsupported) { |error|
      expect(error.message).to include("os.arch=ppc64le", "libc=glibc")
      expect(error.message).to include(File.join(@native_dir, "linux-ppc64le"))
      expect(error.message).to include("ships: linux-aarch64, linux-x86_64, linux-x86_64-musl")
    }
    expect { path_for("amd64", "glibc", os_name: "Mac OS X") }.to raise_error(described_class::Unsupported, /mac-x86_64/)
  end

  it "says so when the gem ships no library at all" do
    FileUtils.rm_rf(Dir.glob(File.join(@native_dir, "*")))
    expect { path_for("amd64", "glibc") }.to raise_error(described_class::Unsupported, /ships: none/)
  end

  it "tells musl from glibc by the process's memory map, else by the musl loader's presence" do
    maps = File.join(@native_dir, "maps")
    File.write(maps, "7f00 r-xp 00000000 08:01 12 /lib/ld-musl-x86_64.so.1\n")
    expect(described_class.detect_libc(maps)).to eq("musl")
    File.write(maps, "7f00 r-xp 00000000 08:01 12 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    expect(described_class.detect_libc(maps)).to eq("glibc")
    missing = File.join(@native_dir, "no-maps")
    expect(described_class.detect_libc(missing, File.join(@native_dir, "linux-*-musl"))).to eq("musl")
    expect(described_class.detect_libc(missing, File.join(@native_dir, "nothing-*"))).to eq("glibc")
  end

  it "detects this JVM's libc from /proc/self/maps" do
    maps = File.read("/proc/self/maps")
    expect(maps).not_to be_empty
    expect(described_class.detect_libc).to eq(maps.include?("ld-musl") ? "musl" : "glibc")
  end

  it "defaults to the gem's own vendor/native directory" do
    expect(described_class::DEFAULT_DIR).to eq(File.expand_path("../../../vendor/native", __dir__))
  end
end
