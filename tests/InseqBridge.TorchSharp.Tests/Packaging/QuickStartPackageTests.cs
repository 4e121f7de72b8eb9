using System.Diagnostics;
using System.Text.RegularExpressions;

namespace InseqBridge.Native.Tests.Packaging;

/// <summary>
/// The library as users consume it: packs InseqBridge, InseqBridge.Tokenizers and InseqBridge.Native into a
/// local feed, creates a fresh console app that references InseqBridge.Native from it (nothing else: no libtorch
/// package, no targets import), pastes the README's C# quick start as its Program.cs and runs it. Slow (a pack, a
/// restore and a build); skipped with the reason when the dotnet CLI or a package cannot be had.
/// </summary>
[Trait("Category", "Slow")]
[Collection(SerialCollection.Name)]
public sealed partial class QuickStartPackageTests
{
    [PackageTestFact]
    public void The_readme_quick_start_runs_in_a_fresh_app_from_the_packages()
    {
        string root = Fixtures.RepositoryRoot;
        string work = Directory.CreateTempSubdirectory("quickstart-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            foreach (string project in new[] { "InseqBridge", "InseqBridge.Tokenizers", "InseqBridge.TorchSharp" })
            {
                string csproj = Path.Combine(root, "src", project, project + ".csproj");

                // The suite has just built Release; packing without a build takes seconds. Fall back to a full pack.
                var packed = Dotnet(root, "pack", csproj, "-c", "Release", "--no-build", "-o", feed);
                if (packed.Exit != 0)
                {
                    packed = Dotnet(root, "pack", csproj, "-c", "Release", "-o", feed);
                }

                Assert.True(packed.Exit == 0, $"dotnet pack {project} failed:\n{packed.Output}");
            }

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

            // A private packages folder, so the packages just made are used (not a cached copy); the user's folder
            // serves the large third-party packages (libtorch) as a fallback instead of downloading them again.
            File.WriteAllText(Path.Combine(app, "QuickStart.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <RestorePackagesPath>{Path.Combine(work, "packages")}</RestorePackagesPath>
                    <RestoreAdditionalProjectFallbackFolders>{home}</RestoreAdditionalProjectFallbackFolders>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="InseqBridge.TorchSharp" Version="*-*" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeQuickStart(root));

            // The quick start reads the demo model and a dataset relative to the working directory.
            string run = Path.Combine(work, "run");
            CopyDirectory(Path.Combine(root, "examples", "models", "words2digits"), Path.Combine(run, "examples", "models", "words2digits"));
            File.WriteAllText(Path.Combine(run, "numbers.jsonl"), "{\"text\": \"seven two\"}\n{\"text\": \"nine four one\"}\n");

            var built = Dotnet(app, "build", "-c", "Release");
            Assert.True(built.Exit == 0, $"the quick-start app does not build:\n{built.Output}");

            var ran = Dotnet(run, "exec", Path.Combine(app, "bin", "Release", "net10.0", "QuickStart.dll"));
            Assert.True(ran.Exit == 0, $"the quick-start app failed:\n{ran.Output}");
            Assert.True(File.Exists(Path.Combine(run, "out.json")), ran.Output);
            Assert.Equal(2, Directory.GetFiles(Path.Combine(run, "runs"), "example-*.json").Length);
            Assert.NotNull(FeatureAttributionOutputLoader(Path.Combine(run, "out.json")));
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }

    /// <summary>The first ```csharp block after the README's "## C# quick start" heading.</summary>
    internal static string ReadmeQuickStart(string root)
    {
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int section = readme.IndexOf("## C# quick start", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no '## C# quick start' section");
        Match code = CodeBlock().Match(readme, section);
        Assert.True(code.Success, "no ```csharp block in the C# quick start");
        return code.Groups[1].Value;
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    private static object FeatureAttributionOutputLoader(string path) => InseqBridge.Data.FeatureAttributionOutput.Load(path);

    private static (int Exit, string Output) Dotnet(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}

/// <summary>A fact skipped, with the reason, where the packaging test cannot run: no <c>dotnet</c> CLI on PATH, or
/// INSEQBRIDGE_SKIP_PACKAGE_TEST=1 (e.g. offline machines without the packages in the NuGet cache).</summary>
public sealed class PackageTestFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public PackageTestFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("INSEQBRIDGE_SKIP_PACKAGE_TEST") == "1")
        {
            Skip = "INSEQBRIDGE_SKIP_PACKAGE_TEST=1";
        }
        else if (!(Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, "dotnet"))))
        {
            Skip = "the dotnet CLI is not on PATH (needed to pack the libraries and build a fresh app)";
        }
    }
}
