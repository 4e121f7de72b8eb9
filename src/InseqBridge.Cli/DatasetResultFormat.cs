namespace InseqBridge.Cli;

/// <summary>How <c>attribute-dataset</c> writes its results (<c>--format</c>).</summary>
public enum DatasetResultFormat
{
    /// <summary><c>json</c>: one Inseq JSON file per example (default).</summary>
    Json,

    /// <summary><c>jsonl</c>: every result appended to one JSON Lines file.</summary>
    JsonLines,

    /// <summary><c>parquet</c>: long-format Parquet tables, one per example.</summary>
    Parquet,
}
