using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Server.Tests;

/// <summary>Runs on its own (after the parallel tests): the registries are process-wide and <see cref="ApiTests"/>
/// compares the served lists with the known ids.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RegistryCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Registry (process-wide registrations)";
}

/// <summary>A method and a step function added through the registries alone appear in <c>/v1/methods</c> and
/// <c>/v1/step-functions</c> with their declared arguments and defaults, and disappear once removed.</summary>
[Collection(RegistryCollection.Name)]
public sealed class RegisteredCatalogTests(InProcessServer server) : IClassFixture<InProcessServer>
{
    private HttpClient Client => server.Host.Client;

    private sealed record Doubled : AttributionMethod
    {
        public override string Id => "test_doubled_server";
    }

    [Fact]
    public async Task Registered_methods_and_step_functions_are_served()
    {
        AttributionMethodRegistry.Register(new AttributionMethodDescriptor
        {
            Id = "test_doubled_server",
            Summary = "Test method.",
            Arguments = [ArgumentSpec.Integer("times", 2, "Repetitions.", minimum: 1)],
            Create = _ => new Doubled(),
        });
        StepFunctionRegistry.Register(new StepFunctionDescriptor
        {
            Id = "test_step_server",
            Summary = "Test step function.",
            Arguments = [ArgumentSpec.Boolean("flag", true, "A flag.")],
        });
        try
        {
            var methods = JsonNode.Parse(await Client.GetStringAsync("/v1/methods"))!["methods"]!.AsArray();
            JsonNode method = methods.Single(m => m!["id"]!.GetValue<string>() == "test_doubled_server")!;
            Assert.Equal("times", method["arguments"]![0]!["name"]!.GetValue<string>());
            Assert.Equal(2, method["arguments"]![0]!["default"]!.GetValue<int>());
            Assert.True(method["accepts_step_scores"]!.GetValue<bool>());
            var steps = JsonNode.Parse(await Client.GetStringAsync("/v1/step-functions"))!["step_functions"]!.AsArray();
            JsonNode step = steps.Single(s => s!["id"]!.GetValue<string>() == "test_step_server")!;
            Assert.True(step["arguments"]![0]!["default"]!.GetValue<bool>());
        }
        finally
        {
            AttributionMethodRegistry.Unregister("test_doubled_server");
            StepFunctionRegistry.Unregister("test_step_server");
        }

        string after = await Client.GetStringAsync("/v1/methods");
        Assert.DoesNotContain("test_doubled_server", after, StringComparison.Ordinal);
    }
}
