using System.Text.Json.Nodes;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Generation;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>--generation-kwargs</c>: Inseq's generation_args on the command line (beam search attributes the best
/// beam; values are checked up front).</summary>
public sealed class GenerationKwargsCliTests
{
    [Fact]
    public void Beam_search_output_is_attributed_and_recorded()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("bart"), "--method", "saliency", "--input", "Hello world",
            "--generation-kwargs", """{"num_beams": 3, "no_repeat_ngram_size": 2}""", "--max-new-tokens", "5", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        JsonNode info = JsonNode.Parse(File.ReadAllText(folder.File("out.json")))!["attributes"]!["info"]!;
        Assert.Equal(3, info["generation_args"]!["num_beams"]!.GetValue<int>());
        Assert.Equal(2, info["generation_args"]!["no_repeat_ngram_size"]!.GetValue<int>());
        Assert.Equal(5, info["generation_args"]!["max_new_tokens"]!.GetValue<int>());

        // The attributed target is what beam search generates for the same prompt.
        string dir = Fixtures.ModelDir("bart");
        var tokenizer = InseqBridge.Tokenizers.HfTokenizer.Load(dir);
        var config = GenerationConfig.Load(dir, ModelConfig.Load(dir));
        int[] beam = Generator.Generate(Fixtures.Model("bart"), config, [[.. tokenizer.Encode("Hello world")]],
            new GenerationOptions { MaxNewTokens = 5, NumBeams = 3, NoRepeatNgramSize = 2 })[0];
        Assert.Equal(tokenizer.Decode(beam, skipSpecialTokens: true), info["generated_texts"]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"num_beams\": 3", 2, "not valid JSON")]
    [InlineData("[1, 2]", 2, "must be a JSON object")]
    [InlineData("{\"num_beam\": 3}", 1, "unsupported generation argument(s) num_beam; supported: max_new_tokens")]
    [InlineData("{\"num_beams\": 0}", 1, "num_beams must be an integer >= 1 (got 0)")]
    [InlineData("{\"top_p\": \"high\"}", 1, "top_p must be a number in (0, 1]")]
    [InlineData("{\"max_new_tokens\": 4}", 2, "disagree")]
    public void Bad_generation_kwargs_are_refused_before_loading(string json, int exitCode, string message)
    {
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency", "--input", "Hello",
            "--generation-kwargs", json, "--max-new-tokens", "3");
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Error, StringComparison.Ordinal);
    }
}
