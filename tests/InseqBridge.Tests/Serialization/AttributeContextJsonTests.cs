using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Serialization;

/// <summary>attribute-context JSON: files Inseq wrote load, and saving them again gives Inseq's bytes.</summary>
public sealed class AttributeContextJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pecorejson").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Cases() => ContextFixtures.OkCases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void PythonFileRoundTripsByteForByte(string id)
    {
        string path = Path.Combine(ContextFixtures.Dir, id + ".json");
        AttributeContextOutput output = AttributeContextJson.Load(path);
        Assert.Equal(File.ReadAllText(path), AttributeContextJson.Serialize(output));
    }

    [Fact]
    public void LoadReadsEveryField()
    {
        AttributeContextOutput output = ContextFixtures.Load("gpt2__kl__forced__default");
        Assert.Equal("The cat sat on the mat and looked at the dog.", output.InputContext);
        Assert.Equal(12, output.InputContextTokens!.Count);
        Assert.Equal("\u0120cat", output.InputContextTokens[1]);
        Assert.Null(output.OutputContext);
        Assert.Equal(["very", "\u0120happy", "\u0120with", "\u0120the", "\u0120dog", "\u0120today"], output.OutputCurrentTokens);
        Assert.Equal(0.008355848491191864, output.CtiScores![3]);
        CciOutput cci = Assert.Single(output.CciScores);
        Assert.Equal(3, cci.CtiIdx);
        Assert.Equal("\u0120the", cci.CtiToken);
        Assert.Null(cci.ContextlessOutput);
        Assert.Equal(12, cci.InputContextScores!.Count);
        Assert.Null(cci.OutputContextScores);
        Assert.Equal("kl_divergence", output.Info!["context_sensitivity_metric"]!.GetValue<string>());
    }

    [Fact]
    public void OutputWithoutInfoHasNoInfoKey()
    {
        AttributeContextOutput output = ContextFixtures.Load("gpt2__kl__no_info__normalize");
        Assert.Null(output.Info);
        Assert.DoesNotContain("\"info\"", AttributeContextJson.Serialize(output), StringComparison.Ordinal);
    }

    [Fact]
    public void SaveRefusesToReplaceAFileUnlessAsked()
    {
        AttributeContextOutput output = ContextFixtures.Load("marian__kl__forced__std0");
        string path = Path.Combine(_dir, "out.json");
        AttributeContextJson.Save(output, path);
        Assert.Throws<OutputFileExistsException>(() => AttributeContextJson.Save(output, path));
        AttributeContextJson.Save(output with { OutputCurrent = "changed" }, path, overwrite: true);
        Assert.Equal("changed", AttributeContextJson.Load(path).OutputCurrent);
    }

    [Fact]
    public void NaNScoresAreWrittenAsPythonDoes()
    {
        var output = new AttributeContextOutput { CtiScores = [double.NaN, 0.5], CciScores = [] };
        string json = AttributeContextJson.Serialize(output);
        Assert.Contains("NaN,", json, StringComparison.Ordinal);
        Assert.True(double.IsNaN(AttributeContextJson.Parse(json).CtiScores![0]));
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("{\"cci_scores\": [{\"cti_idx\": \"x\"}]}")]
    [InlineData("{\"cti_scores\": \"abc\", \"cci_scores\": []}")]
    public void MalformedFilesGiveTypedErrors(string json)
    {
        var e = Assert.Throws<InseqJsonException>(() => AttributeContextJson.Parse(json, "bad.json"));
        Assert.StartsWith("bad.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InfoIsKeptAsWritten()
    {
        AttributeContextOutput output = ContextFixtures.Load("gpt2__kl__templates__output_context__attention");
        JsonObject info = output.Info!;
        Assert.Equal("<ctx> {context} <cur> {current}", info["input_template"]!.GetValue<string>());
        Assert.True(info["has_output_context"]!.GetValue<bool>());
    }
}
