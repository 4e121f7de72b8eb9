namespace InseqBridge.Tokenizers.Tests;

/// <summary>Behaviour beyond the fixtures: thread safety, guessing the class without a config, id lookups.</summary>
public sealed class BehaviourTests
{
    [Fact]
    public void EncodesConcurrentlyWithTheSameResults()
    {
        var tok = LoadedTokenizers.Get("gpt2");
        string[] texts = ["Hello world", "Numbers 12345 3.14159", "Café naïve façade", "don't can't I'm"];
        var expected = texts.Select(t => tok.Encode(t).ToArray()).ToArray();
        Parallel.For(0, 400, i => Assert.Equal(expected[i % texts.Length], tok.Encode(texts[i % texts.Length])));
    }

    [Fact]
    public void GuessesGpt2FromFilesWithoutConfig()
    {
        var dir = Directory.CreateTempSubdirectory("inseq-tok-").FullName;
        try
        {
            foreach (var file in new[] { "vocab.json", "merges.txt" })
            {
                File.Copy(Path.Combine(FixturePaths.Model("gpt2"), file), Path.Combine(dir, file));
            }
            var tok = HfTokenizer.Load(dir);
            Assert.Equal("GPT2Tokenizer", tok.TokenizerClass);
            Assert.Equal([15496, 995], tok.Encode("Hello world"));
            Assert.Equal(50256, tok.Special.Eos?.Id);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void IdLookups()
    {
        var tok = LoadedTokenizers.Get("t5");
        Assert.Equal("<extra_id_0>", tok.IdToToken(809));
        Assert.Null(tok.IdToToken(810));
        Assert.Null(tok.TokenToId("certainly not a piece"));
        Assert.Equal(1, tok.TokenToId("</s>"));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.ConvertIdsToTokens([99999]));
    }

    [Fact]
    public void AstralLettersStayInOneGpt2Word()
    {
        // U+20000 is a CJK letter outside the BMP: Python's regex sees one \p{L} code point, so " 𠀀x" is one word.
        var tok = LoadedTokenizers.Get("gpt2");
        var pieces = tok.Tokenize("a \U00020000x");
        Assert.Equal("a", pieces[0]);
        Assert.StartsWith("Ġ", pieces[1]);
        Assert.Equal("a \U00020000x", tok.Decode(tok.Encode("a \U00020000x")));
    }
}
