namespace InseqBridge.Cli;

/// <summary>Which engine runs <c>attribute</c> (<c>--backend</c>).</summary>
public enum AttributionBackend
{
    /// <summary><c>native</c>: the TorchSharp engine in this process (default).</summary>
    Native,

    /// <summary><c>python</c>: real Python Inseq in a worker process.</summary>
    Python,
}
