namespace InseqBridge.Python.Tests;

public class SmokeTests
{
    [PythonTorchFact]
    public void Scale_round_trip()
    {
        using var backend = PythonBackend.Start(PythonTestEnvironment.Options("torch"));
        float[] r = backend.ScaleWithTorch([1f, 2f, 3f], 2.0);
        Assert.Equal([2f, 4f, 6f], r);
    }
}
