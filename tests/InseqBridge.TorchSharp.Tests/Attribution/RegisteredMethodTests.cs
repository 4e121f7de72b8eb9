using System.Globalization;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Attribution.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>
/// A method and a step function added from C# through the registries alone (a descriptor plus native code) are listed
/// by the CLI, explained, parsed by FromId, scheduled by fast mode's decision, and run: the user method written as
/// gradient x input equals the built-in input_x_gradient in reference and fast mode, and the user step function equals
/// its definition computed from the built-in logit score. Serial: the registries are process-wide and other tests
/// enumerate the known ids.
/// </summary>
[Collection(SerialCollection.Name)]
public class RegisteredMethodTests
{
    private sealed record UserGradientTimesInput : AttributionMethod
    {
        public override string Id => MethodId;
    }

    private const string MethodId = "test_user_gradient_times_input";

    private const string StepId = "test_scaled_logit";

    private static AttributionRequest Request(AttributionMethod method) => new(["Hello world", "The cat"])
    {
        GeneratedTexts = ["Hello world, this is", "The cat sat on the"],
        Method = method,
        StepScores = [StepFunction.FromId("probability")],
    };

    [Fact]
    public void A_method_registered_from_csharp_is_listed_parsed_scheduled_and_run()
    {
        AttributionMethodRegistry.Register(new AttributionMethodDescriptor
        {
            Id = MethodId,
            Summary = "Gradient times input, written as a user method (test).",
            Create = _ => new UserGradientTimesInput(),
            FastMode = FastModeRule.GradientTimesInput,
        });
        NativeAttributionMethods.Register(MethodId, (_, context) =>
        {
            Tensor[] leaves = [.. context.Inputs.Select(i => i.detach().requires_grad_(true))];
            Tensor score = context.Forward(leaves).sum();
            IList<Tensor> gradients = torch.autograd.grad([score], leaves);
            return [.. gradients.Select((g, i) => g * context.Inputs[i])];
        });
        try
        {
            CliResult list = CliRunner.Run("list-methods");
            Assert.Equal(0, list.ExitCode);
            Assert.Contains(MethodId, list.Output.Split('\n').Select(l => l.Trim()));
            CliResult explain = CliRunner.Run("explain", MethodId);
            Assert.Equal(0, explain.ExitCode);
            Assert.Contains("Gradient times input, written as a user method (test).", explain.Output, StringComparison.Ordinal);
            Assert.Contains("fast mode: yes (gradient x input)", explain.Output, StringComparison.Ordinal);

            AttributionMethod method = Assert.IsType<UserGradientTimesInput>(AttributionMethod.FromId(MethodId));
            AttributionRequest request = Request(method);
            Assert.True(FastAttributionRun.Supports(method, request with { Mode = ExecutionMode.Fast }, hasContrast: false, start: 1));
            Assert.False(FastAttributionRun.Supports(method, request with { Mode = ExecutionMode.Reference }, hasContrast: false, start: 1));

            NativeAttributionModel model = AttributionParityTests.Model("gpt2");
            FeatureAttributionOutput builtIn = model.Attribute(Request(new InputXGradient()) with { Mode = ExecutionMode.Reference });
            FeatureAttributionOutput user = model.Attribute(request with { Mode = ExecutionMode.Reference });
            FeatureAttributionOutput userFast = model.Attribute(request with { Mode = ExecutionMode.Fast });
            Assert.Equal(MethodId, user.Info["attribution_method"]?.GetValue<string>());
            AttributionParityTests.Compare(builtIn, user, "user method (reference) vs input_x_gradient");
            AttributionParityTests.Compare(builtIn, userFast, "user method (fast) vs input_x_gradient");
            Assert.Contains(user.SequenceAttributions[0].TargetAttributions!.ToArray(), v => v != 0);
        }
        finally
        {
            NativeAttributionMethods.Unregister(MethodId);
            AttributionMethodRegistry.Unregister(MethodId);
        }

        Assert.DoesNotContain(MethodId, CliRunner.Run("list-methods").Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_function_registered_from_csharp_is_listed_parsed_and_evaluated()
    {
        StepFunctionEvaluator.Register(
            new StepFunctionDescriptor
            {
                Id = StepId,
                Summary = "The target token's logit times a factor (test).",
                Arguments = [ArgumentSpec.Number("factor", 1.0, "Multiplier.")],
            },
            (function, context) =>
            {
                var custom = (CustomStepFunction)function;
                double factor = custom.Args.TryGetValue("factor", out string? given) ? double.Parse(given, CultureInfo.InvariantCulture) : 1.0;
                return context.Logits.gather(-1, context.TargetIds.reshape(-1, 1)).squeeze(-1).Times(factor);
            });
        try
        {
            CliResult list = CliRunner.Run("list-step-functions");
            Assert.Contains(StepId, list.Output.Split('\n').Select(l => l.Trim()));
            CliResult explain = CliRunner.Run("explain", StepId);
            Assert.Equal(0, explain.ExitCode);
            Assert.Contains("factor", explain.Output, StringComparison.Ordinal);
            // Declared arguments are routed by name like built-in ones: not one of the take-anything ids.
            Assert.DoesNotContain(StepId, StepFunctionEvaluator.CustomIds);
            Assert.Equal(["factor"], StepFunction.ArgumentNames(StepId));

            StepFunction scaled = StepFunction.FromId(StepId, new Dictionary<string, string> { ["factor"] = "3" });
            AttributionRequest request = Request(new Saliency()) with { StepScores = [StepFunction.FromId("logit"), scaled] };
            Assert.True(FastAttributionRun.Supports(request.Method!, request with { Mode = ExecutionMode.Fast }, hasContrast: false, start: 1));
            NativeAttributionModel model = AttributionParityTests.Model("gpt2");
            foreach (ExecutionMode mode in new[] { ExecutionMode.Reference, ExecutionMode.Fast })
            {
                FeatureAttributionOutput output = model.Attribute(request with { Mode = mode });
                foreach (var sequence in output.SequenceAttributions)
                {
                    float[] logits = sequence.StepScores["logit"].ToArray();
                    float[] values = sequence.StepScores[StepId].ToArray();
                    Assert.Equal(logits.Length, values.Length);
                    for (int i = 0; i < logits.Length; i++)
                    {
                        Assert.True(Math.Abs(values[i] - (3 * logits[i])) <= 1e-4 * Math.Max(1, Math.Abs(logits[i])), $"{mode} step {i}: {values[i]} vs 3 x {logits[i]}");
                    }
                }
            }
        }
        finally
        {
            StepFunctionEvaluator.Unregister(StepId);
        }

        Assert.DoesNotContain(StepId, StepFunction.KnownIds);
    }
}
