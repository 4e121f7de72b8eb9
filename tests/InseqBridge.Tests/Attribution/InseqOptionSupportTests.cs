using InseqBridge.Attribution;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Attribution;

public class InseqOptionSupportTests
{
    private static readonly AttributionRequest Plain = new(["a"]) { GeneratedTexts = ["b"] };

    [Fact]
    public void Attribute_options_become_inseq_keyword_arguments_and_read_back()
    {
        var request = Plain with { SkipSpecialTokens = true, CleanSpecialChars = true, GenerateFromTargetPrefix = true };
        var kwargs = InseqCallArguments.ToKwargs(request, new Saliency());
        Assert.True(kwargs["skip_special_tokens"]!.GetValue<bool>());
        Assert.True(kwargs["clean_special_chars"]!.GetValue<bool>());
        Assert.True(kwargs["generate_from_target_prefix"]!.GetValue<bool>());
        Assert.False(InseqCallArguments.ToKwargs(Plain, new Saliency()).ContainsKey("skip_special_tokens"));

        AttributionRequest? back = InseqCallArguments.FromKwargs("saliency", kwargs, out string? unsupported);
        Assert.Null(unsupported);
        Assert.True(back!.SkipSpecialTokens && back.CleanSpecialChars && back.GenerateFromTargetPrefix);
    }

    [Theory]
    [InlineData("0.6.0")]
    [InlineData("0.6.1.dev0")]
    public void Inseq_0_6_refuses_the_0_7_token_options_with_a_one_line_message(string version)
    {
        foreach (var request in new[] { Plain with { SkipSpecialTokens = true }, Plain with { CleanSpecialChars = true } })
        {
            var e = Assert.Throws<InvalidRequestException>(() => InseqCallArguments.ToKwargs(request, new Saliency(), version));
            Assert.Contains("needs Inseq 0.7 or later", e.Message, StringComparison.Ordinal);
            Assert.Contains(version, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Theory]
    [InlineData("0.6.0")]
    [InlineData("0.7.0")]
    [InlineData(null)]
    public void Generate_from_target_prefix_goes_to_every_inseq_version(string? version)
    {
        var kwargs = InseqCallArguments.ToKwargs(Plain with { GenerateFromTargetPrefix = true }, new Saliency(), version);
        Assert.True(kwargs["generate_from_target_prefix"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("0.7.0")]
    [InlineData("0.8.0.dev0")]
    [InlineData("")]
    [InlineData(null)]
    public void Newer_or_unknown_versions_take_the_token_options(string? version)
    {
        var kwargs = InseqCallArguments.ToKwargs(Plain with { SkipSpecialTokens = true, CleanSpecialChars = true }, new Saliency(), version);
        Assert.True(kwargs["skip_special_tokens"]!.GetValue<bool>());
    }
}
