DROP TABLE public.count_sample_bits;
