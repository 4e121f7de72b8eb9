namespace InseqBridge.Server;

/// <summary>
/// Process-wide setup of the native runtime, run once before the server loads its first model. The place for
/// settings a long-running service needs and a one-shot command does not (for instance the OpenMP threads' wait
/// policy, so idle worker threads stop spinning between requests).
/// </summary>
public static class NativeRuntimeSetup
{
    private static int _applied;

    /// <summary>Applies the setup (idempotent).</summary>
    public static void Apply()
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0)
        {
            return;
        }

        // Intentionally empty for now: the native backend's runtime setup call goes here (issue 18).
    }
}
