// Trains the demo checkpoint examples/models/words2digits: a tiny BART (BartForConditionalGeneration) that turns
// number words into digits, "seven two nine" -> "729". The i-th digit depends on the i-th word only, so a correct
// attribution of each generated digit puts the most weight on its word: a known answer for checking attribution
// methods. Output: a Hugging Face checkpoint folder (config.json, generation_config.json, model.safetensors with
// HF key names, BartTokenizer files vocab.json + merges.txt) that InseqBridge and Python transformers both load.
//
// Usage: dotnet run -c Release --project examples/DemoModel -- [OUTPUT_DIR] [--steps N] [--seed N]
// Defaults reproduce the committed checkpoint byte for byte (one torch thread, fixed seed): about 1.5 minutes on
// an idle 2-core CPU; held-out token accuracy 1.0 for 1 to 8 words.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Serialization;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

string output = "examples/models/words2digits";
int steps = 3000;
int seed = 20240601;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--steps": steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: output = args[i]; break;
    }
}

Directory.CreateDirectory(output);
torch.set_num_threads(1); // one thread: the same seed gives the same weights on every run
torch.manual_seed(seed);
var random = new Random(seed);

// ---- Tokenizer: byte-level BPE whose merges make every number word (with and without a leading space) one token.
string[] words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
List<(string Left, string Right)> merges = DemoTokenizer.LearnMerges(words);
Dictionary<string, int> vocab = DemoTokenizer.WriteFiles(output, merges);
IHfTokenizer tokenizer = HfTokenizer.Load(output);
foreach (string word in words)
{
    if (tokenizer.Tokenize(word).Count != 1 || tokenizer.Tokenize("one " + word).Count != 2)
    {
        throw new InvalidOperationException($"'{word}' is not a single token: the merges are wrong.");
    }
}

// ---- Model: a small BART, same forward as InseqBridge's native backend (TransformerLanguageModel.FromWeights).
const double PeakLearningRate = 1e-3;
const int Hidden = 64, Heads = 4, Ffn = 128, Layers = 2, MaxPositions = 32, MinWords = 1, MaxWords = 8;
int vocabSize = vocab.Count;
DemoTokenizer.WriteModelConfig(output, vocabSize, Hidden, Heads, Ffn, Layers, MaxPositions);
var config = (BartConfig)ModelConfig.Load(output);
var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
var parameters = new List<Parameter>();
using (torch.no_grad())
{
    // An explicit, disposed Scalar: an implicit one (mul_(0.02)) could be finalized during the native call.
    Tensor Normal(params long[] shape)
    {
        using Scalar std = 0.02.ToScalar();
        return torch.randn(shape).mul_(std);
    }

    void Add(string name, Tensor init)
    {
        var p = new Parameter(init, requires_grad: true);
        weights[name] = p;
        parameters.Add(p);
    }

    void Linear(string name, long outFeatures, long inFeatures)
    {
        Add(name + ".weight", Normal(outFeatures, inFeatures));
        Add(name + ".bias", torch.zeros(outFeatures));
    }

    void Norm(string name)
    {
        Add(name + ".weight", torch.ones(Hidden));
        Add(name + ".bias", torch.zeros(Hidden));
    }

    Tensor shared = Normal(vocabSize, Hidden);
    using (Tensor padRow = shared[vocab["<pad>"]])
    {
        padRow.zero_();
    }

    Add("model.shared.weight", shared);
    foreach (string side in new[] { "encoder", "decoder" })
    {
        string prefix = $"model.{side}.";
        Add(prefix + "embed_positions.weight", Normal(MaxPositions + 2, Hidden));
        Norm(prefix + "layernorm_embedding");
        for (int layer = 0; layer < Layers; layer++)
        {
            string p = $"{prefix}layers.{layer}.";
            foreach (string attention in side == "encoder" ? new[] { "self_attn" } : ["self_attn", "encoder_attn"])
            {
                foreach (string projection in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
                {
                    Linear($"{p}{attention}.{projection}", Hidden, Hidden);
                }

                Norm($"{p}{attention}_layer_norm");
            }

            Linear(p + "fc1", Ffn, Hidden);
            Linear(p + "fc2", Hidden, Ffn);
            Norm(p + "final_layer_norm");
        }
    }

    weights["final_logits_bias"] = torch.zeros(1, vocabSize); // a buffer in transformers: saved, not trained
}

using TransformerLanguageModel model = TransformerLanguageModel.FromWeights(config, weights);
using var optimizer = torch.optim.Adam(parameters, lr: PeakLearningRate);
const int BatchSize = 64, WarmupSteps = 200;
var clock = Stopwatch.StartNew();
for (int step = 1; step <= steps; step++)
{
    using var scope = torch.NewDisposeScope();
    int count = random.Next(MinWords, MaxWords + 1);
    var batch = Enumerable.Range(0, BatchSize).Select(_ => Example(count)).ToList();
    using Tensor loss = Loss(batch, out double accuracy);
    foreach (var group in optimizer.ParamGroups)
    {
        group.LearningRate = PeakLearningRate * Math.Min(1.0, step / (double)WarmupSteps);
    }

    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 100 == 0 || step == steps)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {step,5}  words {count}  loss {loss.item<float>():0.0000}  token accuracy {accuracy:0.000}  {clock.Elapsed.TotalSeconds:0}s"));
    }
}

// Held-out check (teacher forcing) on every length.
using (torch.no_grad())
{
    for (int count = MinWords; count <= MaxWords; count++)
    {
        using var scope = torch.NewDisposeScope();
        using Tensor loss = Loss(Enumerable.Range(0, 200).Select(_ => Example(count)).ToList(), out double accuracy);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held-out words {count}: token accuracy {accuracy:0.0000}"));
    }
}

var tensors = weights
    .OrderBy(kv => kv.Key, StringComparer.Ordinal)
    .Select(kv => KeyValuePair.Create(kv.Key, SafetensorsTensor.FromFloats(
        SafetensorsDType.F32, kv.Value.detach().contiguous().data<float>().ToArray(), kv.Value.shape)));
File.WriteAllBytes(Path.Combine(output, "model.safetensors"), SafetensorsFormat.Write(tensors, new Dictionary<string, string> { ["format"] = "pt" }));
Console.WriteLine($"wrote {output} ({clock.Elapsed.TotalSeconds:0}s)");
return 0;

(string Words, string Digits) Example(int count)
{
    int[] digits = Enumerable.Range(0, count).Select(_ => random.Next(10)).ToArray();
    return (string.Join(' ', digits.Select(d => words[d])), string.Concat(digits));
}

// Cross-entropy of BART's seq2seq objective: labels = tokenizer(text_target) = <s> digits </s>; decoder inputs =
// labels shifted right after decoder_start_token_id (</s>). Every example of a batch has the same length.
Tensor Loss(List<(string Words, string Digits)> batch, out double accuracy)
{
    long[][] sources = batch.Select(e => tokenizer.Encode(e.Words).Select(id => (long)id).ToArray()).ToArray();
    long[][] labels = batch.Select(e => tokenizer.Encode(e.Digits, asTarget: true).Select(id => (long)id).ToArray()).ToArray();
    long start = config.DecoderStartTokenId ?? vocab["</s>"];
    long[][] decoderInputs = labels.Select(l => new[] { start }.Concat(l[..^1]).ToArray()).ToArray();
    Tensor source = torch.tensor(sources.SelectMany(x => x).ToArray(), [batch.Count, sources[0].Length]);
    Tensor target = torch.tensor(decoderInputs.SelectMany(x => x).ToArray(), [batch.Count, decoderInputs[0].Length]);
    Tensor gold = torch.tensor(labels.SelectMany(x => x).ToArray(), [batch.Count * labels[0].Length]);
    EncoderOutput encoded = model.Encode(model.EmbedEncoderTokens(source), null, ForwardOptions.None);
    DecoderOutput decoded = model.Decode(model.EmbedDecoderTokens(target), null, null, encoded, null, null, ForwardOptions.None);
    Tensor logits = decoded.Logits.reshape(-1, vocabSize);
    using (torch.no_grad())
    {
        accuracy = logits.argmax(-1).eq(gold).to(ScalarType.Float32).mean().item<float>();
    }

    return nn.functional.cross_entropy(logits, gold).MoveToOuterDisposeScope();
}

/// <summary>Writes the tokenizer and config files of the demo checkpoint.</summary>
internal static class DemoTokenizer
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the other bytes map
    /// to U+0100 onwards in byte order.</summary>
    public static char[] ByteAlphabet()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }

        return table;
    }

    /// <summary>Learns BPE merges on the words, alone and after a space, until each is one symbol: the most
    /// frequent adjacent pair first (ties: ordinal order), so applying the merges by rank gives back whole words.</summary>
    public static List<(string Left, string Right)> LearnMerges(IReadOnlyList<string> words)
    {
        char space = ByteAlphabet()[' '];
        var pieces = words.SelectMany(w => new[] { w, space + w })
            .Select(w => w.Select(c => c.ToString()).ToList())
            .ToList();
        var merges = new List<(string, string)>();
        while (pieces.Any(p => p.Count > 1))
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (List<string> p in pieces)
            {
                for (int i = 0; i + 1 < p.Count; i++)
                {
                    counts[(p[i], p[i + 1])] = counts.GetValueOrDefault((p[i], p[i + 1])) + 1;
                }
            }

            var best = counts
                .OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal)
                .ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            foreach (List<string> p in pieces)
            {
                for (int i = 0; i + 1 < p.Count; i++)
                {
                    if (p[i] == best.Item1 && p[i + 1] == best.Item2)
                    {
                        p[i] += p[i + 1];
                        p.RemoveAt(i + 1);
                    }
                }
            }
        }

        return merges;
    }

    /// <summary>Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json (BartTokenizer);
    /// returns the vocabulary.</summary>
    public static Dictionary<string, int> WriteFiles(string directory, List<(string Left, string Right)> merges)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string special in new[] { "<s>", "<pad>", "</s>", "<unk>" })
        {
            vocab[special] = vocab.Count;
        }

        foreach (char c in ByteAlphabet())
        {
            vocab[c.ToString()] = vocab.Count;
        }

        foreach (var (left, right) in merges)
        {
            vocab.TryAdd(left + right, vocab.Count);
        }

        vocab["<mask>"] = vocab.Count;
        var vocabJson = new JsonObject();
        foreach (var (token, id) in vocab)
        {
            vocabJson[token] = id;
        }

        Write(directory, "vocab.json", vocabJson);
        var mergesText = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in merges)
        {
            mergesText.Append(left).Append(' ').Append(right).Append('\n');
        }

        File.WriteAllText(Path.Combine(directory, "merges.txt"), mergesText.ToString(), new UTF8Encoding(false));

        var addedTokens = new JsonObject();
        foreach (string special in new[] { "<s>", "<pad>", "</s>", "<unk>", "<mask>" })
        {
            addedTokens[vocab[special].ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = special,
                ["lstrip"] = special == "<mask>",
                ["normalized"] = true,
                ["rstrip"] = false,
                ["single_word"] = false,
                ["special"] = true,
            };
        }

        Write(directory, "tokenizer_config.json", new JsonObject
        {
            ["add_prefix_space"] = false,
            ["added_tokens_decoder"] = addedTokens,
            ["bos_token"] = "<s>",
            ["clean_up_tokenization_spaces"] = true,
            ["cls_token"] = "<s>",
            ["eos_token"] = "</s>",
            ["errors"] = "replace",
            ["mask_token"] = "<mask>",
            ["model_max_length"] = 32,
            ["pad_token"] = "<pad>",
            ["sep_token"] = "</s>",
            ["tokenizer_class"] = "BartTokenizer",
            ["unk_token"] = "<unk>",
        });
        var map = new JsonObject();
        foreach (var (name, token) in new[] { ("bos_token", "<s>"), ("cls_token", "<s>"), ("eos_token", "</s>"), ("mask_token", "<mask>"), ("pad_token", "<pad>"), ("sep_token", "</s>"), ("unk_token", "<unk>") })
        {
            map[name] = new JsonObject
            {
                ["content"] = token,
                ["lstrip"] = token == "<mask>",
                ["normalized"] = true,
                ["rstrip"] = false,
                ["single_word"] = false,
            };
        }

        Write(directory, "special_tokens_map.json", map);
        return vocab;
    }

    /// <summary>Writes config.json and generation_config.json for BartForConditionalGeneration.</summary>
    public static void WriteModelConfig(string directory, int vocabSize, int hidden, int heads, int ffn, int layers, int maxPositions)
    {
        Write(directory, "config.json", new JsonObject
        {
            ["activation_dropout"] = 0.0,
            ["activation_function"] = "gelu",
            ["architectures"] = new JsonArray("BartForConditionalGeneration"),
            ["attention_dropout"] = 0.0,
            ["bos_token_id"] = 0,
            ["d_model"] = hidden,
            ["decoder_attention_heads"] = heads,
            ["decoder_ffn_dim"] = ffn,
            ["decoder_layers"] = layers,
            ["decoder_start_token_id"] = 2,
            ["dropout"] = 0.0,
            ["encoder_attention_heads"] = heads,
            ["encoder_ffn_dim"] = ffn,
            ["encoder_layers"] = layers,
            ["eos_token_id"] = 2,
            ["forced_bos_token_id"] = 0,
            ["forced_eos_token_id"] = 2,
            ["init_std"] = 0.02,
            ["is_encoder_decoder"] = true,
            ["max_position_embeddings"] = maxPositions,
            ["model_type"] = "bart",
            ["num_hidden_layers"] = layers,
            ["pad_token_id"] = 1,
            ["scale_embedding"] = false,
            ["tie_word_embeddings"] = true,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
            ["vocab_size"] = vocabSize,
        });
        Write(directory, "generation_config.json", new JsonObject
        {
            ["bos_token_id"] = 0,
            ["decoder_start_token_id"] = 2,
            ["eos_token_id"] = 2,
            ["forced_bos_token_id"] = 0,
            ["forced_eos_token_id"] = 2,
            ["max_length"] = maxPositions,
            ["pad_token_id"] = 1,
        });
    }

    private static void Write(string directory, string name, JsonNode node) =>
        File.WriteAllText(Path.Combine(directory, name), node.ToJsonString(Indented) + "\n", new UTF8Encoding(false));
}
