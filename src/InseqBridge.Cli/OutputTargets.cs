using InseqBridge.Serialization;

namespace InseqBridge.Cli;

/// <summary>Checks output paths before any work starts, so a long attribution never fails at the end on a path
/// that could not have worked: an existing file without <c>--overwrite</c>, a folder, a folder path through a
/// file, or one file named by two outputs.</summary>
public static class OutputTargets
{
    /// <summary>Throws on the first target that cannot be written.</summary>
    /// <param name="targets">Each output's flag and path.</param>
    /// <param name="overwrite">Whether existing files may be replaced.</param>
    /// <exception cref="CliUsageException">Two outputs name the same file.</exception>
    /// <exception cref="OutputFileExistsException">A target exists and <paramref name="overwrite"/> is false.</exception>
    /// <exception cref="IOException">A target is a folder, or its folder cannot be created.</exception>
    public static void Check(IReadOnlyList<(string Flag, string Path)> targets, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (flag, path) in targets)
        {
            if (path.Length == 0)
            {
                throw new CliUsageException($"{flag} needs a file name.");
            }

            string full = Path.GetFullPath(path);
            if (!seen.TryAdd(full, flag))
            {
                throw new CliUsageException($"{seen[full]} and {flag} both name {path}; give each output its own file.");
            }

            if (Directory.Exists(full))
            {
                throw new IOException($"{flag} {path} is a folder; give a file name (e.g. {Path.Combine(path, "out" + Extension(flag))}).");
            }

            if (File.Exists(full) && !overwrite)
            {
                throw new OutputFileExistsException(path);
            }

            // The folder is created when the file is written (as for --html); a file in the way fails now.
            for (string? dir = Path.GetDirectoryName(full); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(dir))
                {
                    throw new IOException($"{flag} {path}: {dir} is a file, so no folder can be created there; choose another path.");
                }

                if (Directory.Exists(dir))
                {
                    break;
                }
            }
        }
    }

    private static string Extension(string flag) => flag switch
    {
        "--html" => ".html",
        "--csv" => ".csv",
        _ => ".json",
    };
}
