# fish completion for moeckpt(1). Written from `moeckpt --help` and `moeckpt COMMAND --help`;
# tests/docs/completion_test.cpp fails when an option printed there is missing here.

set -l commands inspect map experts archs validate convert tensor diff

function __moeckpt_archs
    # Ask the program itself, so the list follows its registry.
    moeckpt archs 2>/dev/null | awk 'NR > 2 && /^[a-z0-9_]+ / && $1 != "moeckpt" {print $1}'
end

complete -c moeckpt -f

# Global options: accepted before or after the command name.
complete -c moeckpt -s h -l help -d 'Print help and exit'
complete -c moeckpt -l version -d 'Print version and git revision'
complete -c moeckpt -l json -d 'Print one deterministic JSON document on stdout'
complete -c moeckpt -s q -l quiet -d 'No progress bar, no warnings'
complete -c moeckpt -s v -l verbose -d 'Debug log lines on stderr (twice: trace)'
complete -c moeckpt -l color -x -a 'auto always never' -d 'Color output'
complete -c moeckpt -l timeout -x -d 'For a URL PATH: seconds each request may take'
complete -c moeckpt -l revision -x -d 'For an hf:// PATH: branch, tag or commit'

complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a inspect -d 'Summarize a checkpoint'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a map -d 'How an engine loads every tensor; gaps'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a experts -d 'Expert mapping and placement plan'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a archs -d 'Architectures moeckpt knows'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a validate -d 'Check a checkpoint before an engine loads it'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a convert -d 'Dequantize, cast, quantize, rename, filter, reshard'
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a tensor -d "One tensor's values and statistics"
complete -c moeckpt -n "not __fish_seen_subcommand_from $commands" -a diff -d 'Compare two checkpoints'

# Checkpoint paths are files or directories.
complete -c moeckpt -n "__fish_seen_subcommand_from inspect map validate convert tensor diff" -F

complete -c moeckpt -n "__fish_seen_subcommand_from inspect" -l tensors -d 'List every tensor'
complete -c moeckpt -n "__fish_seen_subcommand_from inspect" -l filter -x -d 'Only tensors matching this RE2 regex'

complete -c moeckpt -n "__fish_seen_subcommand_from map validate convert experts" -l arch -x -a '(__moeckpt_archs)' -d 'Architecture'
complete -c moeckpt -n "__fish_seen_subcommand_from map validate convert" -l rules -r -F -d 'Rules file (moeckpt-rules(5))'
complete -c moeckpt -n "__fish_seen_subcommand_from map" -l params -d 'Engine parameters with their fillers'

complete -c moeckpt -n "__fish_seen_subcommand_from experts" -l config -r -F -d 'config.json for architecture and sizes'
complete -c moeckpt -n "__fish_seen_subcommand_from experts" -l num-experts -x -d 'Routed (logical) experts'
complete -c moeckpt -n "__fish_seen_subcommand_from experts" -l redundant-experts -x -d 'Redundant experts (EPLB)'
complete -c moeckpt -n "__fish_seen_subcommand_from experts validate" -l tp -x -d 'Tensor-parallel ranks'
complete -c moeckpt -n "__fish_seen_subcommand_from experts validate" -l ep -x -d 'Expert-parallel ranks'
complete -c moeckpt -n "__fish_seen_subcommand_from experts" -l lora -d 'Names as a LoRA-wrapped model has them'

complete -c moeckpt -n "__fish_seen_subcommand_from archs" -x -a '(__moeckpt_archs)'
complete -c moeckpt -n "__fish_seen_subcommand_from archs" -l missing -d 'vLLM MoE families no entry covers'

complete -c moeckpt -n "__fish_seen_subcommand_from validate" -l moe-backend -x -a 'megamoe' -d 'Check the experts can run on a fused MoE kernel'
complete -c moeckpt -n "__fish_seen_subcommand_from validate" -l data -d "Also scan every tensor's values"
complete -c moeckpt -n "__fish_seen_subcommand_from validate" -l strict -d 'Treat warnings as errors'
complete -c moeckpt -n "__fish_seen_subcommand_from validate convert diff" -l threads -x -d 'Threads (default: all cores)'

complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l dequant -x -a 'bf16 f16 f32' -d 'Dequantize quantized tensors'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l cast -x -a 'BF16 F16 F32 F8_E4M3 F8_E5M2' -d 'Cast every floating tensor'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l quantize -x -a 'fp8-block mxfp4 fp8-tensor fp8-channel nvfp4' -d 'Quantize BF16/F16/F32 weights'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l saturate -d "Clamp values beyond a format's range"
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l rename -x -a engine -d "Give tensors the engine's names"
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l experts -x -a 'per-expert fused engine' -d 'Re-lay the routed experts'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l only -x -d 'Write only tensors matching this RE2 regex'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l exclude -x -d 'Leave out tensors matching this RE2 regex'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l text-only -d 'Keep the language model of a multimodal checkpoint'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l drop-mtp -d 'Leave out the MTP layers'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l only-mtp -d 'Keep only the MTP layers (a draft model)'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l max-shard-size -x -d 'Largest shard, e.g. 5GB'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l dry-run -d 'Print the plan and write nothing'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l resume -d 'Keep the shards an interrupted run finished'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l overwrite -d 'Replace an earlier conversion in OUT'
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l worker -x -d "I/N or auto: write only this worker's share"
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l workers -x -d "N: worker count for --worker auto"
complete -c moeckpt -n "__fish_seen_subcommand_from convert" -l finalize -x -a '(__fish_complete_directories)' -d 'Write index and config after all workers'

complete -c moeckpt -n "__fish_seen_subcommand_from tensor" -s n -l count -x -d 'How many values to print'
complete -c moeckpt -n "__fish_seen_subcommand_from tensor" -l dequant -d 'Dequantize through its scales'
complete -c moeckpt -n "__fish_seen_subcommand_from tensor" -l stats -d 'Scan every value for statistics'

complete -c moeckpt -n "__fish_seen_subcommand_from diff" -l atol -x -d 'Absolute tolerance'
complete -c moeckpt -n "__fish_seen_subcommand_from diff" -l rtol -x -d 'Relative tolerance, of |B|'
