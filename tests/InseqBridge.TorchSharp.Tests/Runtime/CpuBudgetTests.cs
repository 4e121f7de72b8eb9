
namespace InseqBridge.Native.Tests.Runtime;

/// <summary>
/// The CPU count the native backend sizes libtorch's thread pool by: affinity mask capped by the cgroup CPU quota of
/// the process's cgroup and its ancestors, read from fake cgroup trees (v1 and v2) laid out like the kernel's.
/// </summary>
public class CpuBudgetTests
{
    private static string? ReadOrNull(string path) => File.Exists(path) ? File.ReadAllText(path) : null;

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void Cgroup_v2_takes_the_tightest_quota_of_the_cgroup_and_its_ancestors()
    {
        using var folder = new TemporaryFolder();
        string mount = Path.Combine(folder.Path, "cgroup");
        Write(Path.Combine(mount, "cpu.max"), "max 100000\n");
        Write(Path.Combine(mount, "system.slice", "cpu.max"), "250000 100000\n"); // 2.5 CPUs
        Write(Path.Combine(mount, "system.slice", "app.service", "cpu.max"), "max 100000\n");
        string mountInfo = $"30 23 0:26 / {mount} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
            + "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";
        double? quota = CpuBudget.QuotaCpus(mountInfo, "0::/system.slice/app.service\n", ReadOrNull);
        Assert.Equal(2.5, quota);
        Assert.Equal(3, CpuBudget.Combine(16, quota)); // rounded up, as .NET's Environment.ProcessorCount
        Assert.Equal(2, CpuBudget.Combine(2, quota)); // the affinity mask is tighter

        Write(Path.Combine(mount, "system.slice", "app.service", "cpu.max"), "50000 100000\n"); // half a CPU
        Assert.Equal(0.5, CpuBudget.QuotaCpus(mountInfo, "0::/system.slice/app.service\n", ReadOrNull));
        Assert.Equal(1, CpuBudget.Combine(16, 0.5));
    }

    [Fact]
    public void Cgroup_v2_without_limits_has_no_quota()
    {
        using var folder = new TemporaryFolder();
        string mount = Path.Combine(folder.Path, "cgroup");
        Write(Path.Combine(mount, "cpu.max"), "max 100000\n");
        Write(Path.Combine(mount, "user.slice", "cpu.max"), "max 100000\n");
        string mountInfo = $"30 23 0:26 / {mount} rw shared:4 - cgroup2 cgroup2 rw\n";
        Assert.Null(CpuBudget.QuotaCpus(mountInfo, "0::/user.slice\n", ReadOrNull));
        Assert.Equal(6, CpuBudget.Combine(6, null));
    }

    [Fact]
    public void Cgroup_v1_reads_the_cfs_quota_of_the_cpu_hierarchy_relative_to_its_mount_root()
    {
        using var folder = new TemporaryFolder();
        // A container: the cpu,cpuacct hierarchy is mounted with its root at the container's cgroup.
        string mount = Path.Combine(folder.Path, "cpu,cpuacct");
        Write(Path.Combine(mount, "cpu.cfs_quota_us"), "150000\n");
        Write(Path.Combine(mount, "cpu.cfs_period_us"), "100000\n");
        string memory = Path.Combine(folder.Path, "memory");
        Write(Path.Combine(memory, "cpu.cfs_quota_us"), "10000\n"); // not a cpu hierarchy: ignored
        Write(Path.Combine(memory, "cpu.cfs_period_us"), "100000\n");
        string mountInfo =
            $"40 35 0:35 /docker/abc {mount} ro,nosuid,nodev,noexec,relatime master:17 - cgroup cgroup rw,cpu,cpuacct\n"
            + $"41 35 0:36 /docker/abc {memory} ro,nosuid master:18 - cgroup cgroup rw,memory\n";
        string procCgroup = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        double? quota = CpuBudget.QuotaCpus(mountInfo, procCgroup, ReadOrNull);
        Assert.Equal(1.5, quota);
        Assert.Equal(2, CpuBudget.Combine(8, quota));

        Write(Path.Combine(mount, "cpu.cfs_quota_us"), "-1\n"); // unlimited
        Assert.Null(CpuBudget.QuotaCpus(mountInfo, procCgroup, ReadOrNull));
    }

    [Fact]
    public void Control_file_parsing()
    {
        Assert.Null(CpuBudget.ParseCpuMax("max 100000"));
        Assert.Equal(4.0, CpuBudget.ParseCpuMax("400000 100000\n"));
        Assert.Equal(2.0, CpuBudget.ParseCpuMax("200000")); // the period defaults to 100 ms
        Assert.Null(CpuBudget.ParseCpuMax(null));
        Assert.Null(CpuBudget.ParseCpuMax("garbage"));
        Assert.Equal(0.25, CpuBudget.ParseCfs("25000", "100000"));
        Assert.Null(CpuBudget.ParseCfs("-1", "100000"));
        Assert.Null(CpuBudget.ParseCfs(null, "100000"));
    }

    [LinuxFact]
    public void On_this_machine_the_count_matches_dotnets_processor_count()
    {
        int? affinity = CpuBudget.AffinityCount();
        Assert.NotNull(affinity);
        Assert.InRange(CpuBudget.Available(), 1, affinity.Value);
        Assert.Equal(CpuBudget.Available(), NativeRuntime.AvailableCpus());
        if (Environment.GetEnvironmentVariable("DOTNET_PROCESSOR_COUNT") is not { Length: > 0 })
        {
            // .NET applies the same rule on Linux (affinity mask, then the cgroup quota rounded up).
            Assert.Equal(Environment.ProcessorCount, CpuBudget.Available());
        }
    }
}

/// <summary>A fact that runs on Linux only (skipped elsewhere, with the reason).</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only: CPU affinity, cgroups and libgomp's environment are Linux features.";
        }
    }
}
