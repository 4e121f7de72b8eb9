using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Tests.Serialization;

public sealed class SaveLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inseqjson").FullName;

    private static FeatureAttributionOutput Fixture() =>
        InseqJson.Load(Path.Combine(ParityFixtures.Attributions, "bart__saliency__forced.json"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(ScoresPrecision.Float32, InseqJsonEncoding.Inseq06, 0.0)]
    [InlineData(ScoresPrecision.Float32, InseqJsonEncoding.Inseq07, 0.0)]
    [InlineData(ScoresPrecision.Float16, InseqJsonEncoding.Inseq07, 1e-3)]
    [InlineData(ScoresPrecision.Float16, InseqJsonEncoding.Inseq06, 1e-3)]
    [InlineData(ScoresPrecision.Float8, InseqJsonEncoding.Inseq07, 0.07)]
    public void Round_trip_keeps_values_within_precision(ScoresPrecision precision, InseqJsonEncoding encoding, double rtol)
    {
        FeatureAttributionOutput original = Fixture();
        string path = Path.Combine(_dir, "out.json");
        original.Save(path, new SaveOptions(ScoresPrecision: precision, Encoding: encoding));
        FeatureAttributionOutput loaded = InseqJson.Load(path);
        for (int i = 0; i < original.SequenceAttributions.Count; i++)
        {
            NdArray a = original.SequenceAttributions[i].SourceAttributions!, b = loaded.SequenceAttributions[i].SourceAttributions!;
            Assert.True(b.AllClose(a, rtol, rtol == 0 ? 0 : 1e-2), $"{precision}/{encoding}");
            if (rtol == 0)
            {
                Assert.Equal(a, b);
            }
        }

        Assert.Equal(original.SequenceAttributions[0].Target, loaded.SequenceAttributions[0].Target);
        Assert.Equal(original.Info.ToJsonString(), loaded.Info.ToJsonString());
    }

    [Fact]
    public void Gzip_round_trip_is_detected_by_magic_bytes()
    {
        FeatureAttributionOutput original = Fixture();
        string path = Path.Combine(_dir, "out.json.gz");
        original.Save(path, new SaveOptions(Compress: true));
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(0x1F, bytes[0]);
        Assert.Equal(InseqJson.Serialize(original), InseqJson.Serialize(InseqJson.Load(path)));
    }

    [Fact]
    public void Split_round_trip_merges_sequences()
    {
        FeatureAttributionOutput original = Fixture();
        string path = Path.Combine(_dir, "out.json");
        IReadOnlyList<string> written = original.Save(path, new SaveOptions(SplitSequences: true));
        Assert.Equal([Path.Combine(_dir, "out_0.json"), Path.Combine(_dir, "out_1.json")], written);
        FeatureAttributionOutput merged = InseqJson.LoadSplit(path);
        Assert.Equal(InseqJson.Serialize(original), InseqJson.Serialize(merged));
    }

    [Fact]
    public void Existing_file_is_not_overwritten_unless_asked()
    {
        string path = Path.Combine(_dir, "out.json");
        File.WriteAllText(path, "keep");
        var e = Assert.Throws<OutputFileExistsException>(() => Fixture().Save(path));
        Assert.Contains(path, e.Message);
        Assert.Equal("keep", File.ReadAllText(path));
        Fixture().Save(path, new SaveOptions(Overwrite: true));
        Assert.NotEqual("keep", File.ReadAllText(path));
    }

    [Theory]
    [InlineData("{\"a\": [1, 2", "$")]
    [InlineData("{\"__instance_type__\": [\"m\", \"FeatureAttributionOutput\"], \"attributes\": {\"sequence_attributions\": 3}}", "$.attributes.sequence_attributions")]
    public void Malformed_json_names_file_and_path(string text, string path)
    {
        string file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, text);
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Load(file));
        Assert.Equal(file, e.FilePath);
        Assert.StartsWith(path, e.JsonPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_base64_and_wrong_shapes_are_reported_with_their_path()
    {
        string text = File.ReadAllText(Path.Combine(ParityFixtures.Attributions, "bart__saliency__forced.json"));
        int at = text.IndexOf("\"b64", StringComparison.Ordinal);
        string broken = text[..(at + 1)] + "b64:!!!" + text[(at + 5)..];
        var e = Assert.Throws<InseqJsonException>(() => InseqJson.Parse(broken, "x.json"));
        Assert.Contains("source_attributions", e.JsonPath, StringComparison.Ordinal);

        string wrongShape = text.Replace("\"attr_pos_end\": 7", "\"attr_pos_end\": 99", StringComparison.Ordinal);
        if (wrongShape != text)
        {
            Assert.Throws<InseqJsonException>(() => InseqJson.Parse(wrongShape, "x.json"));
        }
    }

    [Fact]
    public void Nan_tokens_in_plain_lists_are_read()
    {
        string json = """{"__instance_type__": ["inseq.data.attribution", "FeatureAttributionOutput"], "attributes": {"info": {"exec_time": 1e-05}, "sequence_attributions": [{"__instance_type__": ["inseq.data.attribution", "CoarseFeatureAttributionSequenceOutput"], "attributes": {"attr_pos_end": 2, "attr_pos_start": 1, "source": [], "target": [{"__instance_type__": ["inseq.utils.typing", "TokenWithId"], "attributes": {"id": 5, "token": "\u0120a"}}, {"__instance_type__": ["inseq.utils.typing", "TokenWithId"], "attributes": {"id": 6, "token": "b"}}], "target_attributions": [[0.5], [NaN]], "source_attributions": null, "step_scores": {}, "sequence_scores": {}}}], "step_attributions": null}}""";
        FeatureAttributionOutput output = InseqJson.Parse(json);
        NdArray t = output.SequenceAttributions[0].TargetAttributions!;
        Assert.True(float.IsNaN(t[1, 0]));
        Assert.Equal("Ġa", output.SequenceAttributions[0].Target[0].Token);
        Assert.Contains("\"exec_time\": 1e-05", InseqJson.Serialize(output), StringComparison.Ordinal);
        Assert.Contains("\\u0120a", InseqJson.Serialize(output), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(448f, 0x7E)]
    [InlineData(1f, 0x38)]
    [InlineData(-2f, 0xC0)]
    [InlineData(500f, 0x7F)]
    [InlineData(0.001953125f, 0x01)]
    public void Float8_cast_matches_torch(float value, int expected) =>
        Assert.Equal((byte)expected, Float8E4M3.FromSingle(value));

    [Fact]
    public void Safetensors_blob_round_trips()
    {
        byte[] blob = SafetensorsFormat.Write([
            new("ids", SafetensorsTensor.FromLongs([1, 2, 3], 3)),
            new("x", SafetensorsTensor.FromFloats(SafetensorsDType.BF16, [1f, -2.5f], 2)),
        ]);
        var read = SafetensorsFormat.Read(blob);
        Assert.Equal([1L, 2, 3], read["ids"].Longs!);
        Assert.Equal([1f, -2.5f], read["x"].Floats!);
    }
}
