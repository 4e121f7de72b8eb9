using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Native.Tests.Demo;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>One bad input: how to prepare it in a case folder, the command line, the expected exit code, and words
/// the one-line error must contain (the problem and the fix). <see cref="Outputs"/> lists files the command is
/// asked to write (they may appear); every other file must stay as it was.</summary>
public sealed record BadInput(string Name, Func<string, string[]> Prepare, int Exit, string[] MustSay)
{
    /// <summary>Files (relative to the case folder) the command was asked to create.</summary>
    public string[] Outputs { get; init; } = [];
}

/// <summary>
/// The bad-input catalogue: command lines and files a new user or an attacker might give. Files are made in the
/// case folder by each case's Prepare step (big or hostile ones generated, small models linked from the fixtures).
/// </summary>
public static class BadInputCatalogue
{
    private static string Gpt2 => Fixtures.ModelDir("gpt2");

    private static string Bart => Fixtures.ModelDir("bart");

    private static string Demo => DemoModelTests.ModelDir;

    private static string ParityFile(string name) => Path.Combine(Fixtures.ParityDir, "attributions", name);

    public static IReadOnlyList<BadInput> All { get; } = Build();

    private static string[] A(params string[] args) => args;

    /// <summary>A copy of a model folder (weights and big tokenizer files linked, not copied) with its config.json edited.</summary>
    public static string ModelWithConfig(string folder, string source, Action<JsonObject> edit)
    {
        string dir = Path.Combine(folder, "model");
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.EnumerateFiles(source))
        {
            string target = Path.Combine(dir, Path.GetFileName(file));
            if (Path.GetFileName(file) == "config.json")
            {
                var config = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
                edit(config);
                File.WriteAllText(target, config.ToJsonString());
            }
            else
            {
                File.CreateSymbolicLink(target, file);
            }
        }

        return dir;
    }

    /// <summary>A model folder copy with one file replaced by <paramref name="content"/> (null deletes it).</summary>
    public static string ModelWithFile(string folder, string source, string name, byte[]? content)
    {
        string dir = Path.Combine(folder, "model");
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.EnumerateFiles(source))
        {
            string target = Path.Combine(dir, Path.GetFileName(file));
            if (Path.GetFileName(file) != name)
            {
                File.CreateSymbolicLink(target, file);
            }
        }

        if (content is not null)
        {
            File.WriteAllBytes(Path.Combine(dir, name), content);
        }

        return dir;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] SafetensorsWithHeader(string header, int dataBytes = 0)
    {
        byte[] h = Utf8(header);
        var blob = new byte[8 + h.Length + dataBytes];
        BitConverter.TryWriteBytes(blob.AsSpan(0, 8), (ulong)h.Length);
        h.CopyTo(blob, 8);
        return blob;
    }

    private static string Write(string folder, string name, string text)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string WriteBytes(string folder, string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }

    /// <summary>The Python-saved BART saliency file with its first sequence's attributes edited.</summary>
    private static string EditedResult(string folder, Action<JsonObject> edit, string name = "edited.json")
    {
        var root = JsonNode.Parse(File.ReadAllText(ParityFile("bart__saliency__forced.json")))!;
        edit(root["attributes"]!["sequence_attributions"]![0]!["attributes"]!.AsObject());
        return Write(folder, name, root.ToJsonString());
    }

    private static string EditedRoot(string folder, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(ParityFile("bart__saliency__forced.json")))!.AsObject();
        edit(root);
        return Write(folder, "edited.json", root.ToJsonString());
    }

    private static IReadOnlyList<BadInput> Build()
    {
        var cases = new List<BadInput>();
        void Add(string name, Func<string, string[]> prepare, int exit, params string[] mustSay) => cases.Add(new BadInput(name, prepare, exit, mustSay));
        void Usage(string name, string[] args, params string[] mustSay) => Add(name, _ => args, 2, mustSay);

        // ---- Command-line usage (exit 2; nothing loads) -------------------------------------------------------
        string[] attribute = ["attribute", "--model", "m", "--input", "x"];
        Usage("unknown command", A("atribute"), "atribute", "--help");
        Usage("unknown flag", A([.. attribute, "--n-step", "5"]), "--n-step");
        Usage("attribute without --model", A("attribute", "--input", "x"), "--model");
        Usage("attribute without --input", A("attribute", "--model", "m"), "--input");
        Usage("--n-steps not a number", A([.. attribute, "--n-steps", "abc"]), "--n-steps", "abc", "whole number");
        Usage("--n-steps 0", A([.. attribute, "--n-steps", "0"]), "--n-steps", "between 1");
        Usage("--n-steps negative", A([.. attribute, "--n-steps", "-5"]), "--n-steps");
        Usage("--n-steps a million", A([.. attribute, "--n-steps", "1000000"]), "--n-steps", "100000");
        Usage("--n-steps past int", A([.. attribute, "--n-steps", "99999999999"]), "--n-steps", "whole number");
        Usage("--n-steps decimal", A([.. attribute, "--n-steps", "2.5"]), "--n-steps", "whole number");
        Usage("--max-new-tokens 0", A([.. attribute, "--max-new-tokens", "0"]), "--max-new-tokens", "at least 1");
        Usage("--max-new-tokens negative", A([.. attribute, "--max-new-tokens", "-3"]), "--max-new-tokens");
        Usage("--max-new-tokens text", A([.. attribute, "--max-new-tokens", "ten"]), "--max-new-tokens", "whole number");
        Usage("--internal-batch-size 0", A([.. attribute, "--internal-batch-size", "0"]), "--internal-batch-size", "at least 1");
        Usage("--batch-size 0", A([.. attribute, "--batch-size", "0"]), "--batch-size", "at least 1");
        Usage("--attr-pos-start negative", A([.. attribute, "--attr-pos-start", "-2"]), "--attr-pos-start");
        Usage("--attr-pos-end text", A([.. attribute, "--attr-pos-end", "end"]), "--attr-pos-end", "whole number");
        Usage("--seed text", A([.. attribute, "--seed", "lucky"]), "--seed", "whole number");
        Usage("--mode unknown", A([.. attribute, "--mode", "turbo"]), "turbo");
        Usage("--backend unknown", A([.. attribute, "--backend", "cuda"]), "cuda");
        Usage("--save-format unknown", A([.. attribute, "--save-format", "0.5"]), "0.5");
        Usage("duplicate --method-args key", A([.. attribute, "--method-args", "n_steps=5,n_steps=7"]), "n_steps", "twice");
        Usage("duplicate --step-scores-args key", A([.. attribute, "--step-scores", "probability", "--step-scores-args", "logprob=true,logprob=false"]), "logprob", "twice");
        Usage("duplicate --attributed-fn-args key", A([.. attribute, "--attributed-fn-args", "logprob=true,logprob=true"]), "logprob", "twice");
        Usage("--method-args without =", A([.. attribute, "--method-args", "n_steps"]), "--method-args", "KEY=VALUE");
        Usage("--method-args empty key", A([.. attribute, "--method-args", "=5"]), "--method-args", "KEY=VALUE");
        Usage("--n-steps and n_steps both", A([.. attribute, "--n-steps", "5", "--method-args", "n_steps=7"]), "--n-steps", "n_steps");
        Usage("--internal-batch-size twice", A([.. attribute, "--internal-batch-size", "5", "--method-args", "internal_batch_size=7"]), "--internal-batch-size");
        Usage("n_steps a million in --method-args", A([.. attribute, "--method-args", "n_steps=1000000"]), "n_steps", "100000");
        Usage("--python without python backend", A([.. attribute, "--python", "/usr/bin/python3"]), "--python", "--backend python");
        Usage("--aggregate-fn without --aggregator", A([.. attribute, "--aggregate-fn", "mean"]), "--aggregate-fn", "--aggregator");
        Usage("--step-scores-args for no step score", A([.. attribute, "--step-scores-args", "logprob=true"]), "--step-scores-args", "logprob");
        Add("--save and --html same file", f => A([.. attribute, "--save", Path.Combine(f, "x.out"), "--html", Path.Combine(f, "x.out")]), 2, "--save", "--html", "own file");
        Add("--html and --csv same file", f => A([.. attribute, "--html", Path.Combine(f, "x.out"), "--csv", Path.Combine(f, "x.out")]), 2, "--html", "--csv");
        Add("--csv and --scores-json same file", f => A([.. attribute, "--csv", Path.Combine(f, "x.out"), "--scores-json", Path.Combine(f, "./x.out")]), 2, "--csv", "--scores-json");
        Usage("--save empty", A([.. attribute, "--save", ""]), "--save", "file name");
        Usage("generate --max-new-tokens 0", A("generate", "--model", "m", "--input", "x", "--max-new-tokens", "0"), "--max-new-tokens", "at least 1");
        Usage("forward --decoder-input-ids text", A("forward", "--model", Bart, "--input", "x", "--save", "/tmp/never-written-by-test", "--decoder-input-ids", "two"), "--decoder-input-ids", "two");
        Usage("forward without --save", A("forward", "--model", "m", "--input", "x"), "--save");
        Usage("tokenize without --model", A("tokenize", "--text", "x"), "--model");
        Usage("show without file", A("show"), "show needs FILE");
        Usage("show two files", A("show", "a.json", "b.json"), "b.json");
        Add("show export onto its input", f => A("show", Path.Combine(f, "in.json"), "--html", Path.Combine(f, "in.json"), "--overwrite"), 2, "file being shown");
        Usage("attribute-dataset without --dataset", A("attribute-dataset", "--model", "m"), "--dataset");
        Usage("attribute-dataset --n-steps 0", A("attribute-dataset", "--model", "m", "--dataset", "d.txt", "--n-steps", "0"), "--n-steps");
        Usage("parity --methods without --model", A("parity", "--methods", "saliency"), "--model");
        Usage("bench --repeats text", A("bench", "--repeats", "many"), "--repeats", "whole number");

        // ---- Model folders (exit 1) -------------------------------------------------------------------------
        foreach (string command in new[] { "generate", "tokenize", "attribute" })
        {
            string[] Line(string model) => command switch
            {
                "tokenize" => ["tokenize", "--model", model, "--text", "Hello"],
                "generate" => ["generate", "--model", model, "--input", "Hello", "--max-new-tokens", "2"],
                _ => ["attribute", "--model", model, "--input", "Hello", "--max-new-tokens", "2"],
            };
            Add($"{command}: missing model folder", f => Line(Path.Combine(f, "nope")), 1, "nope", "does not exist");
            Add($"{command}: model path is a file", f => Line(Write(f, "model.txt", "x")), 1, "model.txt");
            Add($"{command}: empty model folder", f => Line(Directory.CreateDirectory(Path.Combine(f, "empty")).FullName), 1, "empty");
        }

        void Config(string name, Action<JsonObject> edit, params string[] mustSay) =>
            Add($"config: {name}", f => A("generate", "--model", ModelWithConfig(f, Gpt2, edit), "--input", "Hello", "--max-new-tokens", "2"), 1, ["config.json", .. mustSay]);
        Config("n_head 0", c => c["n_head"] = 0, "n_head", "at least 1");
        Config("n_head negative", c => c["n_head"] = -2, "n_head");
        Config("n_embd not divisible by n_head", c => c["n_head"] = 3, "n_embd", "divisible");
        Config("n_embd 0", c => c["n_embd"] = 0, "n_embd");
        Config("n_layer 0", c => c["n_layer"] = 0, "n_layer");
        Config("vocab_size 0", c => c["vocab_size"] = 0, "vocab_size");
        Config("vocab_size text", c => c["vocab_size"] = "lots", "wrong type");
        Config("vocab_size fraction", c => c["vocab_size"] = 12.5, "wrong type");
        Config("vocab_size huge", c => c["vocab_size"] = 1e30, "wrong type");
        Config("n_positions 0", c => c["n_positions"] = 0, "max_position_embeddings");
        Config("model_type missing", c => c.Remove("model_type"), "model_type");
        Config("model_type unknown", c => c["model_type"] = "mamba", "mamba", "--backend python");
        Config("model_type not a string", c => c["model_type"] = 7, "must be a string");
        Config("n_embd disagrees with the weights", c => { c["n_embd"] = 64; c["n_inner"] = 128; }, "config.json does not match the weights");
        Config("vocab_size disagrees with the weights", c => c["vocab_size"] = 100, "vocab");
        Add("config: n_layer more than the weights", f => A("generate", "--model", ModelWithConfig(f, Gpt2, c => c["n_layer"] = 5), "--input", "Hello", "--max-new-tokens", "2"), 1, "h.2", "incomplete");
        Add("config: bart heads not dividing d_model", f => A("generate", "--model", ModelWithConfig(f, Bart, c => c["encoder_attention_heads"] = 5), "--input", "Hello", "--max-new-tokens", "2"), 1, "d_model", "divisible");
        Add("config: bart decoder start outside vocabulary", f => A("generate", "--model", ModelWithConfig(f, Bart, c => c["decoder_start_token_id"] = 999999), "--input", "Hello", "--max-new-tokens", "2"), 1, "decoder_start_token_id", "vocab");
        Add("config: llama kv heads not dividing heads", f => A("generate", "--model", ModelWithConfig(f, Fixtures.ModelDir("llama"), c => c["num_key_value_heads"] = 3), "--input", "Hello", "--max-new-tokens", "2"), 1, "num_key_value_heads");
        Add("config: llama heads 0", f => A("generate", "--model", ModelWithConfig(f, Fixtures.ModelDir("llama"), c => c["num_attention_heads"] = 0), "--input", "Hello", "--max-new-tokens", "2"), 1, "num_attention_heads", "at least 1");
        Add("config: t5 num_heads 0", f => A("generate", "--model", ModelWithConfig(f, Fixtures.ModelDir("t5"), c => c["num_heads"] = 0), "--input", "Hello", "--max-new-tokens", "2"), 1, "num_heads");

        void ModelFile(string name, string file, Func<byte[]?> content, params string[] mustSay) =>
            Add($"model file: {name}", f => A("generate", "--model", ModelWithFile(f, Gpt2, file, content()), "--input", "Hello", "--max-new-tokens", "2"), 1, mustSay);
        ModelFile("config.json not JSON", "config.json", () => Utf8("{\"model_type\": \"gpt2\","), "config.json", "JSON");
        ModelFile("config.json an array", "config.json", () => Utf8("[1, 2]"), "config.json", "object");
        ModelFile("config.json empty", "config.json", () => [], "config.json");
        ModelFile("config.json nested 100k deep", "config.json", () => Utf8(new string('[', 100_000)), "config.json");
        ModelFile("config.json binary", "config.json", () => [0xFF, 0xFE, 0x00, 0x01, 0x1B], "config.json");
        ModelFile("config.json missing", "config.json", () => null, "config.json");
        ModelFile("weights missing", "model.safetensors", () => null, "safetensors");
        ModelFile("weights empty", "model.safetensors", () => [], "model.safetensors");
        ModelFile("weights header length past the file", "model.safetensors", () => [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x7B, 0x7D], "model.safetensors");
        ModelFile("weights header not JSON", "model.safetensors", () => SafetensorsWithHeader("{\"wte.weight\": {"), "model.safetensors");
        ModelFile("weights header nested deep", "model.safetensors", () => SafetensorsWithHeader(new string('[', 50_000)), "model.safetensors");
        ModelFile("weights data offsets past the end", "model.safetensors", () => SafetensorsWithHeader("{\"wte.weight\": {\"dtype\": \"F32\", \"shape\": [50257, 32], \"data_offsets\": [0, 6432896]}}"), "model.safetensors");
        ModelFile("weights unknown dtype", "model.safetensors", () => SafetensorsWithHeader("{\"wte.weight\": {\"dtype\": \"Q4\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4), "model.safetensors");
        ModelFile("weights truncated", "model.safetensors", () => File.ReadAllBytes(Path.Combine(Gpt2, "model.safetensors"))[..100_000], "model.safetensors");
        ModelFile("vocab.json corrupt", "vocab.json", () => Utf8("{\"a\": 1, \"b\": "), "vocab.json");
        ModelFile("vocab.json nested deep", "vocab.json", () => Utf8(new string('{', 100_000)), "vocab.json");
        ModelFile("merges.txt missing", "merges.txt", () => null, "merges.txt");
        ModelFile("tokenizer_config.json corrupt", "tokenizer_config.json", () => Utf8("{{{"), "tokenizer_config.json");
        ModelFile("tokenizer_config.json unknown class", "tokenizer_config.json", () => Utf8("{\"tokenizer_class\": \"NoSuchTokenizer\"}"), "NoSuchTokenizer");
        ModelFile("generation_config.json corrupt", "generation_config.json", () => Utf8("{\"max_length\": }"), "generation_config.json");
        Add("forward: decoder id past the vocabulary", f => A("forward", "--model", Bart, "--input", "Hello", "--decoder-input-ids", "2,999999", "--save", Path.Combine(f, "logits.safetensors")), 1, "999999", "vocabulary");
        Add("forward: decoder id past int", f => A("forward", "--model", Bart, "--input", "Hello", "--decoder-input-ids", "99999999999", "--save", Path.Combine(f, "logits.safetensors")), 2, "--decoder-input-ids");

        // ---- Inseq JSON files given to show (exit 1) --------------------------------------------------------------
        void Show(string name, Func<string, string> file, params string[] mustSay) =>
            Add($"show: {name}", f => A("show", file(f)), 1, mustSay);
        Show("missing file", f => Path.Combine(f, "missing.json"), "missing.json", "not found");
        Show("a folder", f => Directory.CreateDirectory(Path.Combine(f, "dir.json")).FullName, "folder");
        Show("empty file", f => Write(f, "empty.json", ""), "empty.json", "end of input");
        Show("null", f => Write(f, "null.json", "null"), "null.json");
        Show("a list", f => Write(f, "list.json", "[1, 2, 3]"), "__instance_type__");
        Show("an empty object", f => Write(f, "obj.json", "{}"), "__instance_type__");
        Show("truncated", f => Write(f, "cut.json", File.ReadAllText(ParityFile("bart__saliency__forced.json"))[..5000]), "cut.json", "malformed JSON");
        Show("100k nested [", f => Write(f, "deep.json", new string('[', 100_000)), "deep.json", "nests deeper");
        Show("100k nested {", f => Write(f, "deep.json", string.Concat(Enumerable.Repeat("{\"a\":", 100_000))), "nests deeper");
        Show("gzip garbage", f => WriteBytes(f, "bad.json.gz", [0x1F, 0x8B, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), "gzip");
        Show("gzip of nested [", f => WriteBytes(f, "deep.json.gz", Gzip(Utf8(new string('[', 1_000_000)))), "nests deeper");
        Show("not UTF-8", f => WriteBytes(f, "latin1.json", [0x7B, 0x22, 0xE9, 0x22, 0x3A, 0x31, 0x7D]), "UTF-8");
        Show("UTF-8 byte order mark", f => WriteBytes(f, "bom.json", [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(ParityFile("bart__saliency__forced.json"))]), "bom.json");
        Show("trailing garbage", f => Write(f, "trail.json", File.ReadAllText(ParityFile("bart__saliency__forced.json")) + "}"), "after the JSON");
        Show("bad escape", f => Write(f, "esc.json", "{\"a\": \"\\q\"}"), "escape");
        Show("raw control character in a string", f => Write(f, "ctl.json", "{\"a\": \"x\u0001y\"}"), "control character");
        Show("wrong class", f => EditedRoot(f, r => r["__instance_type__"] = new JsonArray("inseq.data.attribution", "Nope")), "FeatureAttributionOutput");
        Show("sequences not a list", f => EditedRoot(f, r => r["attributes"]!["sequence_attributions"] = 5), "sequence_attributions", "list");
        Show("info not an object", f => EditedRoot(f, r => r["attributes"]!["info"] = "x"), "info");
        Show("unknown sequence class", f => EditedRoot(f, r => r["attributes"]!["sequence_attributions"]![0]!["__instance_type__"] = new JsonArray("m", "Weird")), "Weird");
        Show("source not a list", f => EditedResult(f, a => a["source"] = "text"), "source", "list of tokens");
        Show("token without text", f => EditedResult(f, a => a["target"]![0]!["attributes"]!.AsObject().Remove("token")), "token");
        Show("token id a string", f => EditedResult(f, a => a["target"]![0]!["attributes"]!["id"] = "seven"), "id", "integer");
        Show("attr_pos_end past the target", f => EditedResult(f, a => a["attr_pos_end"] = 1000), "attributed positions");
        Show("attr_pos_start negative", f => EditedResult(f, a => a["attr_pos_start"] = -1), "attributed positions");
        Show("attr_pos_start after end", f => EditedResult(f, a => { a["attr_pos_start"] = 5; a["attr_pos_end"] = 2; }), "attributed positions");
        Show("step score of the wrong length", f => EditedResult(f, a => a["step_scores"] = new JsonObject { ["probability"] = new JsonArray(1.0, 2.0) }), "step", "shape");
        Show("source attributions of the wrong shape", f => EditedResult(f, a => a["source_attributions"] = new JsonArray(new JsonArray(1.0))), "source_attributions", "does not fit");
        Show("gzip bomb in a 0.6 array", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "b64.gz:" + Convert.ToBase64String(Gzip(new byte[64 << 20])), ["dtype"] = "float32", ["shape"] = new JsonArray(16777216) },
        }), "expected", "steps");
        Show("0.6 array with a negative shape", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "b64:AAAAAA==", ["dtype"] = "float32", ["shape"] = new JsonArray(-1) },
        }), "shape");
        Show("0.6 array with bad base64", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "b64:!!!!", ["dtype"] = "float32", ["shape"] = new JsonArray(8) },
        }), "invalid tensor");
        Show("0.6 array with an unknown dtype", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "b64:AAAAAA==", ["dtype"] = "complex64", ["shape"] = new JsonArray(8) },
        }), "complex64");
        Show("0.6 array without a prefix", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "AAAA", ["dtype"] = "float32", ["shape"] = new JsonArray(8) },
        }), "b64:");
        Show("0.6 array shorter than its shape", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = new JsonObject { ["__ndarray__"] = "b64:AAAAAA==", ["dtype"] = "float32", ["shape"] = new JsonArray(8) },
        }), "needs 8 values");
        Show("0.7 blob not base64", f => EditedResult(f, a => a["step_scores"] = new JsonObject { ["probability"] = "@@@" }), "invalid tensor");
        Show("0.7 blob with a header length past the end", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = Convert.ToBase64String([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x7B, 0x7D]),
        }), "header length");
        Show("0.7 blob header nested deep", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = Convert.ToBase64String(SafetensorsWithHeader(new string('[', 10_000))),
        }), "invalid tensor");
        Show("0.7 blob with overflowing shape", f => EditedResult(f, a => a["step_scores"] = new JsonObject
        {
            ["probability"] = Convert.ToBase64String(SafetensorsWithHeader("{\"attribution\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}")),
        }), "invalid tensor");
        Show("jsonl with a bad line", f => Write(f, "runs.jsonl", JsonNode.Parse(File.ReadAllText(ParityFile("bart__saliency__forced.json")))!.ToJsonString() + "\n{oops\n"), "line 2");
        Show("jsonl that is a folder", f => Directory.CreateDirectory(Path.Combine(f, "a.jsonl")).FullName, "folder");

        // ---- Output files (exit 1; nothing the user did not ask for changes) ----------------------------------------
        Add("show: --html onto an existing file", f =>
        {
            Write(f, "page.html", "keep me");
            return A("show", ParityFile("bart__saliency__forced.json"), "--html", Path.Combine(f, "page.html"));
        }, 1, "page.html", "--overwrite");
        Add("show: --html onto a folder", f => A("show", ParityFile("bart__saliency__forced.json"), "--html", Directory.CreateDirectory(Path.Combine(f, "page.html")).FullName), 1, "folder", "file name");
        Add("show: --csv below a file", f => A("show", ParityFile("bart__saliency__forced.json"), "--csv", Path.Combine(Write(f, "plain", "x"), "out.csv")), 1, "is a file");
        Add("show: --scores-json onto an existing file", f =>
        {
            Write(f, "s.json", "keep");
            return A("show", ParityFile("bart__saliency__forced.json"), "--scores-json", Path.Combine(f, "s.json"));
        }, 1, "--overwrite");
        Add("attribute: --save onto an existing file", f =>
        {
            Write(f, "out.json", "keep me");
            return A("attribute", "--model", Demo, "--input", "one two", "--save", Path.Combine(f, "out.json"));
        }, 1, "out.json", "--overwrite");
        Add("attribute: --save onto a folder", f => A("attribute", "--model", Demo, "--input", "one two", "--save", Directory.CreateDirectory(Path.Combine(f, "out.json")).FullName), 1, "folder", "file name");
        Add("attribute: --save below a file", f => A("attribute", "--model", Demo, "--input", "one two", "--save", Path.Combine(Write(f, "plain", "x"), "out.json")), 1, "is a file");
        Add("attribute: --html onto a folder", f => A("attribute", "--model", Demo, "--input", "one two", "--html", Directory.CreateDirectory(Path.Combine(f, "h")).FullName), 1, "folder");
        Add("attribute: --csv onto an existing file", f =>
        {
            Write(f, "o.csv", "keep");
            return A("attribute", "--model", Demo, "--input", "one two", "--csv", Path.Combine(f, "o.csv"));
        }, 1, "--overwrite");
        Add("forward: --save onto a folder", f => A("forward", "--model", Bart, "--input", "Hi", "--save", Directory.CreateDirectory(Path.Combine(f, "logits")).FullName), 1, "folder");
        Add("forward: --save onto an existing file", f =>
        {
            Write(f, "l.safetensors", "keep");
            return A("forward", "--model", Bart, "--input", "Hi", "--save", Path.Combine(f, "l.safetensors"));
        }, 1, "--overwrite");

        // ---- Attribution requests (exit 1 or 2) -------------------------------------------------------------------
        void Request(string name, int exit, string[] extra, params string[] mustSay) =>
            Add($"attribute: {name}", _ => A(["attribute", "--model", Demo, "--input", "one two", .. extra]), exit, mustSay);
        Request("unknown method", 1, ["--method", "magic"], "magic");
        Request("unknown step score", 1, ["--step-scores", "perplexityy"], "perplexityy");
        Request("unknown attributed function", 1, ["--attributed-fn", "nope"], "nope");
        Request("unknown method argument", 1, ["--method", "integrated_gradients", "--method-args", "stepz=3"], "stepz");
        Request("method argument of the wrong type", 1, ["--method", "integrated_gradients", "--method-args", "multiply_by_inputs=maybe"], "multiply_by_inputs");
        Request("unknown aggregator", 1, ["--aggregator", "median3"], "median3");
        Request("attr-pos-start past the output", 1, ["--generated", "1 2", "--attr-pos-start", "40"], "40");
        Request("attr-pos-end before start", 1, ["--attr-pos-start", "3", "--attr-pos-end", "2"], "attr_pos");
        Request("more --generated than --input", 1, ["--generated", "1", "--generated", "2"], "generated");
        Request("contrast targets count mismatch", 1, ["--contrast-targets", "1", "--contrast-targets", "2"], "contrast");
        Request("bad contrast alignments", 1, ["--contrast-targets", "1 2", "--contrast-targets-alignments", "[[0,"], "alignments");
        Request("empty input", 1, ["--input", ""], "input");

        // ---- Datasets (exit 1) -----------------------------------------------------------------------------------------
        void Dataset(string name, string file, byte[]? content, string[] extra, params string[] mustSay) =>
            cases.Add(new BadInput($"dataset: {name}", f =>
            {
                string path = Path.Combine(f, file);
                if (content is not null)
                {
                    File.WriteAllBytes(path, content);
                }

                return A(["attribute-dataset", "--model", Demo, "--dataset", path, "--output", Path.Combine(f, "out"), "--max-new-tokens", "2", .. extra]);
            }, 1, mustSay)
            { Outputs = ["out"] });
        Dataset("missing file", "none.jsonl", null, [], "none.jsonl", "does not exist");
        Dataset("JSONL row without text", "rows.jsonl", Utf8("{\"prompt\": \"one two\"}\n"), [], "text", "--text-column");
        Dataset("JSONL with a wrong --text-column", "rows.jsonl", Utf8("{\"text\": \"one two\"}\n"), ["--text-column", "body"], "body", "--text-column");
        Dataset("JSONL invalid line", "rows.jsonl", Utf8("{\"text\": \"one\"\n"), [], "line 1", "invalid JSON");
        Dataset("JSONL row not an object", "rows.jsonl", Utf8("[\"one two\"]\n"), [], "JSON object");
        Dataset("JSONL text not a string", "rows.jsonl", Utf8("{\"text\": 42}\n"), [], "expected a string");
        Dataset("JSONL text empty", "rows.jsonl", Utf8("{\"text\": \"  \"}\n"), [], "empty");
        Dataset("JSONL nested deep", "rows.jsonl", Utf8(new string('[', 100_000) + "\n"), [], "invalid JSON");
        Dataset("CSV without the column", "rows.csv", Utf8("prompt\none two\n"), [], "text", "--text-column");
        Dataset("CSV with an unclosed quote", "rows.csv", Utf8("text\n\"one two\n"), [], "line");
        Dataset("CSV row with too many fields", "rows.csv", Utf8("text\none,two\n"), [], "line 2");
        Dataset("generated column on plain text", "rows.txt", Utf8("one two\n"), ["--generated-column", "g"], "--generated-column");
        Dataset("generated column missing in CSV", "rows.csv", Utf8("text\none two\n"), ["--generated-column", "target"], "target");
        Dataset("binary file as JSONL", "rows.jsonl", [0x00, 0xFF, 0x1B, 0x5B, 0x32, 0x4A, 0x0A], [], "line 1");
        Add("dataset: a folder as dataset", f => A("attribute-dataset", "--model", Demo, "--dataset", Directory.CreateDirectory(Path.Combine(f, "d.jsonl")).FullName, "--output", Path.Combine(f, "out")), 1, "d.jsonl");

        // ---- Python backend (exit 1) ------------------------------------------------------------------------------------
        Add("python: /bin/true as Python", _ => A("attribute", "--model", Demo, "--input", "one", "--backend", "python", "--python", "/bin/true"), 1, "/bin/true", "Python");
        Add("python: missing interpreter", f => A("attribute", "--model", Demo, "--input", "one", "--backend", "python", "--python", Path.Combine(f, "python9")), 1, "python9");
        Add("python: a text file as Python", f => A("attribute", "--model", Demo, "--input", "one", "--backend", "python", "--python", Write(f, "python.txt", "not a program")), 1, "python.txt");

        // ---- Hostile content that is still valid (exit 0): nothing raw reaches the terminal -----------------------------
        void Shown(string name, Func<string, string> file) => Add($"show ok: {name}", f => A("show", file(f), "--plain"), 0);
        Shown("escape sequences in tokens", f => EditedResult(f, a =>
        {
            a["source"]![0]!["attributes"]!["token"] = "\u001b[2J\u001b]0;pwned\u0007";
            a["target"]![1]!["attributes"]!["token"] = "\u009b31m\u007f";
        }));
        Shown("bidirectional override in a token", f => EditedResult(f, a => a["source"]![1]!["attributes"]!["token"] = "abc\u202Edef\u2066"));
        Shown("escape sequence in a step score name", f => EditedResult(f, a =>
        {
            var scores = a["step_scores"]!.AsObject();
            JsonNode value = scores["probability"]!;
            scores.Remove("probability");
            scores["evil\u001b[31m"] = value;
        }));
        cases.Add(new BadInput("show ok: --html into a new folder with an escape in its name", f => A("show", ParityFile("bart__saliency__forced.json"), "--html", Path.Combine(f, "new", "p\u001b[1m.html")), 0, []) { Outputs = ["new"] });
        cases.Add(new BadInput("attribute ok: --save into a missing folder is created", f => A("attribute", "--model", Demo, "--input", "one two", "--save", Path.Combine(f, "made", "out.json")), 0, []) { Outputs = ["made"] });

        return cases;
    }
}
