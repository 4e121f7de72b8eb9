using InseqBridge.Attribution;
using InseqBridge.Errors;

namespace InseqBridge.Tests.Attribution;

/// <summary>
/// The method registry: the built-in descriptors build records whose defaults are the declared ones, the id lists keep
/// Inseq's order, a method registered through the registry alone is known to <see cref="AttributionMethod.FromId"/>, and
/// unknown ids or arguments are typed errors naming close ids or the accepted values.
/// </summary>
public class AttributionMethodRegistryTests
{
    [Fact]
    public void Built_in_ids_keep_their_order()
    {
        Assert.Equal(
            [
                "saliency", "input_x_gradient", "integrated_gradients", "attention", "dummy", "occlusion", "lime", "value_zeroing", "reagent",
                "deeplift", "gradient_shap", "layer_integrated_gradients", "layer_gradient_x_activation", "layer_deeplift",
                "sequential_integrated_gradients", "discretized_integrated_gradients",
            ],
            AttributionMethodRegistry.Ids.Where(AttributionMethodRegistry.IsBuiltIn));
    }

    [Fact]
    public void Every_built_in_method_built_without_arguments_has_the_declared_defaults()
    {
        foreach (AttributionMethodDescriptor descriptor in AttributionMethodRegistry.All.Where(d => AttributionMethodRegistry.IsBuiltIn(d.Id)))
        {
            AttributionMethod method = AttributionMethod.FromId(descriptor.Id);
            Assert.Equal(descriptor.Id, method.Id);
            Assert.Same(descriptor, method.GetDescriptor());

            // Arguments lists only what differs from the record's defaults: empty when the declared defaults were used.
            Assert.True(method.Arguments.Count == 0, $"{descriptor.Id}: {string.Join(", ", method.Arguments.Keys)} differ from the record's defaults");
        }
    }

    [Fact]
    public void Declared_defaults_are_the_record_defaults()
    {
        ArgumentSpec steps = AttributionMethodRegistry.Get("integrated_gradients").Arguments.Single(a => a.Name == "n_steps");
        Assert.Equal(new IntegratedGradients().Steps, steps.Default);
        Assert.Equal(50, steps.Default);
        Assert.Equal(ArgumentKind.Integer, steps.Kind);
        ArgumentSpec rule = AttributionMethodRegistry.Get("integrated_gradients").Arguments.Single(a => a.Name == "method");
        Assert.Equal("gausslegendre", rule.Default);
        Assert.Equal(IntegrationMethodNames.Ids, rule.AllowedValues);
        Assert.Equal(new Reagent().MaxProbeSteps, AttributionMethod.DescribeArguments("reagent").Single(a => a.Name == "max_probe_steps").Default);
        Assert.Equal(new Lime().MaskProbability, AttributionMethod.DescribeArguments("lime").Single(a => a.Name == "mask_prob").Default);
    }

    [Fact]
    public void Arguments_are_read_with_their_declared_types_and_checks()
    {
        var ig = (IntegratedGradients)AttributionMethod.FromId("integrated_gradients", new Dictionary<string, string> { ["n_steps"] = "7", ["method"] = "riemann_left" });
        Assert.Equal(7, ig.Steps);
        Assert.Equal(IntegrationMethod.RiemannLeft, ig.Method);
        Assert.Equal(new Dictionary<string, object?> { ["n_steps"] = 7, ["method"] = "riemann_left" }, ig.Arguments);

        var zero = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("integrated_gradients", new Dictionary<string, string> { ["n_steps"] = "0" }));
        Assert.Equal("integrated_gradients: argument 'n_steps' must be at least 1 (got 0).", zero.Message);
        var rule = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("integrated_gradients", new Dictionary<string, string> { ["method"] = "simpson" }));
        Assert.Contains("must be one of gausslegendre, riemann_right", rule.Message, StringComparison.Ordinal);
        var text = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("lime", new Dictionary<string, string> { ["mask_prob"] = "lots" }));
        Assert.Equal("lime: argument 'mask_prob' must be a number (got 'lots').", text.Message);
        var range = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("lime", new Dictionary<string, string> { ["mask_prob"] = "1.5" }));
        Assert.Equal("lime: argument 'mask_prob' must be within [0, 1] (got 1.5).", range.Message);
        var unknown = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("saliency", new Dictionary<string, string> { ["n_steps"] = "3" }));
        Assert.Equal("saliency does not accept argument(s): n_steps.", unknown.Message);
    }

    [Fact]
    public void An_unknown_id_names_the_close_ids()
    {
        var error = Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId("integrated_gradient"));
        Assert.StartsWith("Unknown attribution method 'integrated_gradient'. Did you mean integrated_gradients", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(["saliency"], CloseIds.Of("salency", AttributionMethodRegistry.Ids));
        Assert.Empty(CloseIds.Of("zzz", AttributionMethodRegistry.Ids));
    }

    /// <summary>A method a user defines: one record, one descriptor, one registration.</summary>
    private sealed record ScaledGradient : AttributionMethod
    {
        public const double DefaultFactor = 2.0;

        public override string Id => "test_scaled_gradient_core";

        public double Factor { get; init; } = DefaultFactor;
    }

    [Fact]
    public void A_method_registered_through_the_registry_alone_is_known_everywhere_in_the_core()
    {
        const string id = "test_scaled_gradient_core";
        var descriptor = new AttributionMethodDescriptor
        {
            Id = id,
            Summary = "Gradient times a factor (test).",
            Arguments = [ArgumentSpec.Number("factor", ScaledGradient.DefaultFactor, "Multiplier.", minimum: 0)],
            Create = v => new ScaledGradient { Factor = v.Number("factor") },
            FastMode = FastModeRule.GradientTimesInput,
        };
        Assert.DoesNotContain(id, AttributionMethod.KnownIds);
        AttributionMethodRegistry.Register(descriptor);
        try
        {
            Assert.Contains(id, AttributionMethod.KnownIds);
            var method = Assert.IsType<ScaledGradient>(AttributionMethod.FromId(id, new Dictionary<string, string> { ["factor"] = "3" }));
            Assert.Equal(3.0, method.Factor);
            Assert.Equal(FastModeRule.GradientTimesInput, method.GetDescriptor()!.FastModeFor(method));
            Assert.Equal([new ArgumentDescription("factor", 2.0)], AttributionMethod.DescribeArguments(id));
            Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId(id, new Dictionary<string, string> { ["factor"] = "-1" }));
            Assert.Throws<InvalidRequestException>(() => AttributionMethodRegistry.Register(descriptor));
            AttributionMethodRegistry.Register(descriptor with { Summary = "Replaced." }, overwrite: true);
            Assert.Equal("Replaced.", AttributionMethodRegistry.Get(id).Summary);
        }
        finally
        {
            Assert.True(AttributionMethodRegistry.Unregister(id));
        }

        Assert.DoesNotContain(id, AttributionMethod.KnownIds);
        Assert.Throws<InvalidRequestException>(() => AttributionMethod.FromId(id));
    }

    [Fact]
    public void Built_in_methods_cannot_be_replaced_or_removed()
    {
        var error = Assert.Throws<InvalidRequestException>(() => AttributionMethodRegistry.Register(
            new AttributionMethodDescriptor { Id = "saliency", Summary = "x", Create = _ => new Saliency() }, overwrite: true));
        Assert.Contains("built-in", error.Message, StringComparison.Ordinal);
        Assert.False(AttributionMethodRegistry.Unregister("saliency"));
        Assert.Contains("saliency", AttributionMethod.KnownIds);
    }

    [Fact]
    public void Fast_mode_rules_come_from_the_descriptors()
    {
        Assert.Equal(FastModeRule.AbsoluteGradient, new Saliency().GetDescriptor()!.FastModeFor(new Saliency()));
        Assert.Equal(FastModeRule.IntegratedGradients, new IntegratedGradients().GetDescriptor()!.FastModeFor(new IntegratedGradients()));
        var withDelta = new IntegratedGradients { ReturnConvergenceDelta = true };
        Assert.Equal(FastModeRule.Unsupported, withDelta.GetDescriptor()!.FastModeFor(withDelta));
        Assert.Equal(FastModeRule.Unsupported, new DeepLift().GetDescriptor()!.FastModeFor(new DeepLift()));
    }
}
