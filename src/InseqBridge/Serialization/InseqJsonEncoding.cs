namespace InseqBridge.Serialization;

/// <summary>How tensors are written inside an Inseq JSON file.</summary>
public enum InseqJsonEncoding
{
    /// <summary>json-tricks numpy objects <c>{"__ndarray__": "b64:..."|"b64.gz:...", "dtype", "shape", "Corder"}</c>,
    /// as written by Inseq 0.6 (the parity fixtures use this).</summary>
    Inseq06,

    /// <summary>Base64 of a safetensors blob holding one tensor named <c>attribution</c>, as written by Inseq 0.7+.
    /// Inseq 0.6 cannot read these files.</summary>
    Inseq07,
}
