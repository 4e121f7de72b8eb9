namespace InseqBridge.Tokenizers.SentencePiece;

/// <summary>
/// The parts of a SentencePiece <c>.model</c> file (<c>ModelProto</c>) that encoding and decoding need: the pieces,
/// the model type and the normalizer settings.
/// </summary>
internal sealed class SentencePieceModel
{
    /// <summary>Unigram model (<c>TrainerSpec.ModelType.UNIGRAM</c>).</summary>
    public const int UnigramModelType = 1;

    /// <summary>BPE model (<c>TrainerSpec.ModelType.BPE</c>).</summary>
    public const int BpeModelType = 2;

    private SentencePieceModel() { }

    /// <summary>The pieces, indexed by id.</summary>
    public IReadOnlyList<(string Piece, float Score, SentencePieceType Type)> Pieces { get; private init; } = [];

    /// <summary><c>TrainerSpec.model_type</c> (1 unigram, 2 BPE, 3 word, 4 char).</summary>
    public int ModelType { get; private init; } = UnigramModelType;

    /// <summary><c>TrainerSpec.treat_whitespace_as_suffix</c>.</summary>
    public bool TreatWhitespaceAsSuffix { get; private init; }

    /// <summary><c>TrainerSpec.byte_fallback</c>.</summary>
    public bool ByteFallback { get; private init; }

    /// <summary><c>TrainerSpec.unk_surface</c>: what decoding prints for the unknown piece.</summary>
    public string UnknownSurface { get; private init; } = " \u2047 ";

    /// <summary><c>NormalizerSpec.name</c>.</summary>
    public string NormalizerName { get; private init; } = "";

    /// <summary><c>NormalizerSpec.precompiled_charsmap</c> (empty: identity normalization).</summary>
    public byte[] PrecompiledCharsMap { get; private init; } = [];

    /// <summary><c>NormalizerSpec.add_dummy_prefix</c>.</summary>
    public bool AddDummyPrefix { get; private init; } = true;

    /// <summary><c>NormalizerSpec.remove_extra_whitespaces</c>.</summary>
    public bool RemoveExtraWhitespaces { get; private init; } = true;

    /// <summary><c>NormalizerSpec.escape_whitespaces</c>.</summary>
    public bool EscapeWhitespaces { get; private init; } = true;

    /// <summary>Reads a <c>.model</c> file; anything malformed raises a <see cref="TokenizerLoadException"/> naming it.</summary>
    public static SentencePieceModel Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerLoadException($"Cannot read SentencePiece model '{path}': {e.Message}", e);
        }
        try
        {
            return Parse(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new TokenizerLoadException(
                $"'{path}' is not a valid SentencePiece model (truncated or corrupt protobuf: {e.Message}).", e);
        }
    }

    /// <summary>Parses a serialized <c>ModelProto</c>.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data)
    {
        var pieces = new List<(string, float, SentencePieceType)>();
        int modelType = UnigramModelType;
        bool suffix = false, byteFallback = false;
        string unkSurface = " \u2047 ";
        string normalizerName = "";
        byte[] charsMap = [];
        bool addDummyPrefix = true, removeExtra = true, escape = true;

        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadKey();
            if (field == 1 && wire == ProtobufReader.LengthDelimited)
            {
                pieces.Add(ParsePiece(reader.ReadBytes()));
            }
            else if (field == 2 && wire == ProtobufReader.LengthDelimited)
            {
                var trainer = new ProtobufReader(reader.ReadBytes());
                while (!trainer.AtEnd)
                {
                    var (f, w) = trainer.ReadKey();
                    switch (f)
                    {
                        case 3 when w == ProtobufReader.Varint: modelType = (int)trainer.ReadVarint(); break;
                        case 24 when w == ProtobufReader.Varint: suffix = trainer.ReadVarint() != 0; break;
                        case 35 when w == ProtobufReader.Varint: byteFallback = trainer.ReadVarint() != 0; break;
                        case 44 when w == ProtobufReader.LengthDelimited: unkSurface = trainer.ReadString(); break;
                        default: trainer.Skip(w); break;
                    }
                }
            }
            else if (field == 3 && wire == ProtobufReader.LengthDelimited)
            {
                var normalizer = new ProtobufReader(reader.ReadBytes());
                while (!normalizer.AtEnd)
                {
                    var (f, w) = normalizer.ReadKey();
                    switch (f)
                    {
                        case 1 when w == ProtobufReader.LengthDelimited: normalizerName = normalizer.ReadString(); break;
                        case 2 when w == ProtobufReader.LengthDelimited: charsMap = normalizer.ReadBytes().ToArray(); break;
                        case 3 when w == ProtobufReader.Varint: addDummyPrefix = normalizer.ReadVarint() != 0; break;
                        case 4 when w == ProtobufReader.Varint: removeExtra = normalizer.ReadVarint() != 0; break;
                        case 5 when w == ProtobufReader.Varint: escape = normalizer.ReadVarint() != 0; break;
                        default: normalizer.Skip(w); break;
                    }
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }
        if (pieces.Count == 0)
        {
            throw new InvalidDataException("the model has no pieces");
        }
        return new SentencePieceModel
        {
            Pieces = pieces,
            ModelType = modelType,
            TreatWhitespaceAsSuffix = suffix,
            ByteFallback = byteFallback,
            UnknownSurface = unkSurface,
            NormalizerName = normalizerName,
            PrecompiledCharsMap = charsMap,
            AddDummyPrefix = addDummyPrefix,
            RemoveExtraWhitespaces = removeExtra,
            EscapeWhitespaces = escape,
        };
    }

    private static (string, float, SentencePieceType) ParsePiece(ReadOnlySpan<byte> data)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        var reader = new ProtobufReader(data);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadKey();
            switch (field)
            {
                case 1 when wire == ProtobufReader.LengthDelimited: piece = reader.ReadString(); break;
                case 2 when wire == ProtobufReader.Fixed32: score = reader.ReadFloat(); break;
                case 3 when wire == ProtobufReader.Varint:
                    int value = (int)reader.ReadVarint();
                    if (value < 1 || value > 6)
                    {
                        throw new InvalidDataException($"piece '{piece}' has unknown type {value}");
                    }
                    type = (SentencePieceType)value;
                    break;
                default: reader.Skip(wire); break;
            }
        }
        return (piece, score, type);
    }
}
