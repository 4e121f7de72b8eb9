using System.Globalization;
using System.Runtime.InteropServices;

namespace InseqBridge.Native;

/// <summary>
/// The number of CPUs this process may use on Linux: the CPUs of its affinity mask (<c>sched_getaffinity</c>,
/// narrowed by <c>taskset</c>, <c>docker --cpuset-cpus</c> or a cgroup cpuset), capped by the CPU quota of its
/// cgroup and every cgroup above it (v2 <c>cpu.max</c>, v1 <c>cpu.cfs_quota_us</c> / <c>cpu.cfs_period_us</c>,
/// as set by <c>docker --cpus</c> or Kubernetes CPU limits), rounded up; at least 1. This is the rule
/// <see cref="Environment.ProcessorCount"/> follows on Linux. libtorch's default instead counts the host's cores,
/// which oversubscribes a container limited to fewer CPUs than its host has.
/// </summary>
internal static class CpuBudget
{
    /// <summary>The CPUs this process may use (on other systems: <see cref="Environment.ProcessorCount"/>).</summary>
    public static int Available()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.ProcessorCount;
        }

        int affinity = AffinityCount() ?? Environment.ProcessorCount;
        double? quota = null;
        try
        {
            quota = QuotaCpus(File.ReadAllText("/proc/self/mountinfo"), File.ReadAllText("/proc/self/cgroup"), ReadFileOrNull);
        }
        catch (IOException)
        {
            // no /proc: the affinity count stands
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Combine(affinity, quota);
    }

    /// <summary>The affinity count capped by the quota (in CPUs, rounded up), at least 1.</summary>
    internal static int Combine(int affinity, double? quotaCpus)
    {
        int count = Math.Max(1, affinity);
        if (quotaCpus is double q && q > 0)
        {
            count = Math.Min(count, Math.Max(1, (int)Math.Ceiling(q - 1e-9)));
        }

        return count;
    }

    /// <summary>
    /// The tightest CPU quota (in CPUs, e.g. 1.5) over this process's cgroups and their ancestors, or null when
    /// none is set. <paramref name="mountInfo"/> is the text of <c>/proc/self/mountinfo</c>, <paramref name="procCgroup"/>
    /// that of <c>/proc/self/cgroup</c>; <paramref name="readFile"/> reads a control file (null when absent).
    /// </summary>
    internal static double? QuotaCpus(string mountInfo, string procCgroup, Func<string, string?> readFile)
    {
        double? best = null;
        void Consider(double? cpus)
        {
            if (cpus is double c && c > 0 && (best is null || c < best))
            {
                best = c;
            }
        }

        foreach (string line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // id parent major:minor root mount-point options [optional fields] - fstype source super-options
            string[] fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 5 || fields.Length < dash + 2)
            {
                continue;
            }

            string root = Unescape(fields[3]), mountPoint = Unescape(fields[4]), fsType = fields[dash + 1];
            string superOptions = fields.Length > dash + 3 ? fields[dash + 3] : string.Empty;
            bool v2 = fsType == "cgroup2";
            bool v1Cpu = fsType == "cgroup" && superOptions.Split(',').Contains("cpu");
            if (!v2 && !v1Cpu)
            {
                continue;
            }

            string? path = CgroupPath(procCgroup, v2);
            if (path is null)
            {
                continue;
            }

            string relative = root == "/" ? path
                : path == root || path.StartsWith(root + "/", StringComparison.Ordinal) ? path[root.Length..]
                : path; // e.g. a cgroup namespace whose paths are already relative to the mount
            string mount = mountPoint.TrimEnd('/');
            string trimmed = relative.Trim('/');
            string dir = trimmed.Length == 0 ? mount : mount + "/" + trimmed;
            while (true)
            {
                Consider(v2
                    ? ParseCpuMax(readFile(dir + "/cpu.max"))
                    : ParseCfs(readFile(dir + "/cpu.cfs_quota_us"), readFile(dir + "/cpu.cfs_period_us")));
                if (dir.Length <= mount.Length)
                {
                    break;
                }

                dir = dir[..dir.LastIndexOf('/')];
            }
        }

        return best;
    }

    /// <summary>v2 <c>cpu.max</c>: "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit.</summary>
    internal static double? ParseCpuMax(string? text)
    {
        string[] parts = (text ?? string.Empty).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 1 || parts[0] == "max" || !long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long quota))
        {
            return null;
        }

        long period = 100_000;
        if (parts.Length > 1 && !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out period))
        {
            return null;
        }

        return quota > 0 && period > 0 ? (double)quota / period : null;
    }

    /// <summary>v1 CFS quota and period in microseconds; a quota of -1 means no limit.</summary>
    internal static double? ParseCfs(string? quotaText, string? periodText)
    {
        if (!long.TryParse(quotaText?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long quota)
            || !long.TryParse(periodText?.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long period))
        {
            return null;
        }

        return quota > 0 && period > 0 ? (double)quota / period : null;
    }

    /// <summary>This process's cgroup path in the v2 hierarchy ("0::PATH") or in the v1 hierarchy with the cpu controller.</summary>
    private static string? CgroupPath(string procCgroup, bool v2)
    {
        foreach (string line in procCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }

            if (v2 ? parts[0] == "0" && parts[1].Length == 0 : parts[1].Split(',').Contains("cpu"))
            {
                return parts[2];
            }
        }

        return null;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal (\040 ...).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var builder = new System.Text.StringBuilder();
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                builder.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }

        return builder.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';

    private static string? ReadFileOrNull(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The number of CPUs in this process's affinity mask, or null when it cannot be read.</summary>
    internal static int? AffinityCount()
    {
        for (int bytes = 128; bytes <= 1 << 16; bytes *= 2)
        {
            byte[] mask = new byte[bytes];
            int result;
            try
            {
                result = sched_getaffinity(0, (nuint)bytes, mask);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return null;
            }

            if (result == 0)
            {
                int count = mask.Sum(b => System.Numerics.BitOperations.PopCount(b));
                return count > 0 ? count : null;
            }

            if (Marshal.GetLastPInvokeError() != 22)
            {
                return null; // not EINVAL (mask too small): give up
            }
        }

        return null;
    }

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int sched_getaffinity(int pid, nuint size, byte[] mask);
}
