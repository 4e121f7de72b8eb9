using InseqBridge.Aggregation;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Aggregation;

/// <summary>Inseq's aggregator ids: aggregators, or aggregation functions meaning <c>scores</c> with that function.</summary>
public sealed class AggregatorPipelineTests
{
    [Fact]
    public void Ids_map_to_aggregators_in_order()
    {
        IAggregator[] pipeline = AggregatorPipeline.Parse(["subwords", "max", "scores"], null);
        Assert.IsType<SubwordAggregator>(pipeline[0]);
        Assert.Equal(new ScoresAggregator(AggregationFunction.Max), pipeline[1]);
        Assert.Equal(new ScoresAggregator(), pipeline[2]);
        Assert.Equal(new ScoresAggregator(AggregationFunction.VNorm), AggregatorPipeline.Parse(["scores"], ["vnorm"])[0]);
    }

    [Theory]
    [InlineData("nope", null, "Unknown aggregator 'nope'")]
    [InlineData("spans", null, "needs arguments")]
    [InlineData("max", "mean", "is an aggregation function")]
    [InlineData("scores", "bogus", "Unknown aggregation function 'bogus'")]
    public void Bad_pipelines_are_typed_errors(string id, string? fn, string message)
    {
        var e = Assert.Throws<InvalidRequestException>(() => AggregatorPipeline.Parse([id], fn is null ? null : [fn]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Function_count_must_match()
    {
        Assert.Throws<InvalidRequestException>(() => AggregatorPipeline.Parse(["scores", "subwords"], ["max"]));
    }
}
