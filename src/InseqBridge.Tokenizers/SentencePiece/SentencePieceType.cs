namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>Kind of a SentencePiece vocabulary entry (<c>ModelProto.SentencePiece.Type</c>).</summary>
internal enum SentencePieceType
{
    /// <summary>Ordinary piece, found by the segmentation.</summary>
    Normal = 1,

    /// <summary>The unknown piece.</summary>
    Unknown = 2,

    /// <summary>Control symbol such as &lt;s&gt;/&lt;/s&gt;: never produced from text, decodes to nothing.</summary>
    Control = 3,

    /// <summary>User-defined symbol: always cut out of the text as one piece.</summary>
    UserDefined = 4,

    /// <summary>Reserved piece that the segmentation never uses.</summary>
    Unused = 5,

    /// <summary>Byte-fallback piece <c>&lt;0xAB&gt;</c>.</summary>
    Byte = 6,
}
