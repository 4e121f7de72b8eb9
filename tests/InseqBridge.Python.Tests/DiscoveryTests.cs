namespace InseqBridge.Python.Tests;

public class DiscoveryTests
{
    [Fact]
    public void A_missing_explicit_python_lists_what_was_tried_and_points_to_environment_yml()
    {
        var e = Assert.Throws<PythonEnvironmentException>(() => PythonLocator.Locate("/nonexistent/bin/python3"));
        Assert.Contains("/nonexistent/bin/python3", e.Message);
        Assert.Contains("environment.yml", e.Message);
        Assert.Single(e.Tried);
    }

    [Fact]
    public void A_program_that_is_not_python_is_rejected_with_the_reason()
    {
        string notPython = OperatingSystem.IsWindows() ? Environment.ProcessPath! : "/bin/false";
        var e = Assert.Throws<PythonEnvironmentException>(() => PythonLocator.Locate(notPython));
        Assert.Contains(notPython, e.Tried[0]);
        Assert.Contains("could not be run as Python", e.Tried[0]);
    }

    [Fact]
    public void An_explicit_interpreter_is_asked_for_its_library_and_sys_path()
    {
        if (PythonTestEnvironment.Python("json") is not { } python || PythonTestEnvironment.MissingReason("json") is not null)
        {
            return; // no Python at all: the Python tests report the skip reason
        }

        PythonEnvironment env = PythonLocator.Locate(python);
        Assert.True(File.Exists(env.LibraryPath), env.LibraryPath);
        Assert.Contains("python", Path.GetFileName(env.LibraryPath), StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(env.Executable);
        Assert.Matches(@"^3\.\d+\.\d+$", env.Version);
        Assert.Contains(env.SysPath, p => p.Contains("python3", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("option --python", env.Source);

        // The library itself is accepted as is.
        PythonEnvironment fromLibrary = PythonLocator.Locate(env.LibraryPath);
        Assert.Equal(env.LibraryPath, fromLibrary.LibraryPath);
        Assert.Null(fromLibrary.Executable);
    }

    [PythonTorchFact]
    public void A_missing_module_is_a_typed_error_naming_it()
    {
        var e = Assert.Throws<PythonEnvironmentException>(() => PythonBackend.Start(PythonTestEnvironment.Options("torch") with { RequiredModules = ["torch", "inseq_bridge_no_such_module"] }));
        Assert.Equal(["inseq_bridge_no_such_module"], e.MissingModules);
        Assert.Contains("inseq_bridge_no_such_module", e.Message);
        Assert.Contains("environment.yml", e.Message);
    }
}
